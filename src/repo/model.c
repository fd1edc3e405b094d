/*
 * model.c -- the canonical JSON form of each object.
 *
 * The canonical form is what the registry stores and diffs: compact JSON with a fixed key
 * order, every member present (defaults filled in: "" for absent strings, {} for absent
 * maps, null for "not declared"), map members sorted by key, durations in their canonical
 * text ("1d12h"), types by canonical name ("Array(Float32)"). It is also a valid
 * definition document body, so ldr_defs_add_json rebuilds the object with the same
 * builder that validated the YAML. Two repositories that mean the same thing produce
 * byte-identical specs, which is what makes "apply with no change creates no version".
 */
#include "repo/repo_int.h"

#include <jansson.h>

static json_t *jstr(const char *s)
{
    return json_string(s ? s : "");
}

static json_t *jkvs(const ldr_kvs *kv)
{
    json_t *o = json_object();
    for (size_t i = 0; i < kv->n; i++)
        json_object_set_new(o, kv->items[i].key, jstr(kv->items[i].value));
    return o;
}

static json_t *jnames(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, jstr(names[i]));
    return a;
}

static json_t *jfields(const ldr_field *f, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(f[i].name));
        json_object_set_new(o, "dtype", jstr(ldr_type_name(f[i].type)));
        json_object_set_new(o, "description", jstr(f[i].description));
        json_object_set_new(o, "tags", jkvs(&f[i].tags));
        json_array_append_new(a, o);
    }
    return a;
}

static void common_tail(json_t *o, const char *description, const char *owner, const ldr_kvs *tags)
{
    json_object_set_new(o, "description", jstr(description));
    json_object_set_new(o, "owner", jstr(owner));
    json_object_set_new(o, "tags", jkvs(tags));
}

static json_t *entity_json(const ldr_entity *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", jstr(e->name));
    json_t *jk = json_array();
    json_array_append_new(jk, jstr(e->join_key));
    json_object_set_new(o, "join_keys", jk);
    json_object_set_new(o, "value_type",
                        e->value_type == LDR_TYPE_INVALID ? json_null()
                                                          : jstr(ldr_type_name(e->value_type)));
    common_tail(o, e->description, e->owner, &e->tags);
    return o;
}

static json_t *source_json(const ldr_source *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", jstr(s->name));
    json_object_set_new(o, "type", jstr(ldr_source_kind_name(s->kind)));
    switch (s->kind) {
    case LDR_SOURCE_FILE:
        json_object_set_new(o, "path", jstr(s->path));
        json_object_set_new(o, "file_format", jstr(ldr_file_format_name(s->format)));
        json_object_set_new(o, "timestamp_field", jstr(s->timestamp_field));
        json_object_set_new(o, "created_timestamp_column",
                            *s->created_timestamp_column ? jstr(s->created_timestamp_column)
                                                         : json_null());
        json_object_set_new(o, "field_mapping", jkvs(&s->field_mapping));
        break;
    case LDR_SOURCE_PUSH:
        json_object_set_new(o, "batch_source", jstr(s->batch_source));
        break;
    case LDR_SOURCE_REQUEST:
        json_object_set_new(o, "schema", jfields(s->schema, s->n_schema));
        break;
    }
    common_tail(o, s->description, s->owner, &s->tags);
    return o;
}

static json_t *view_json(const ldr_view *v)
{
    char ttl[LDR_DURATION_BUFSZ];
    json_t *o = json_object();
    json_object_set_new(o, "name", jstr(v->name));
    json_object_set_new(o, "entities", jnames(v->entities, v->n_entities));
    json_object_set_new(o, "ttl", jstr(ldr_duration_format(v->ttl, ttl)));
    json_object_set_new(o, "source", jstr(v->source));
    json_object_set_new(o, "schema", jfields(v->schema, v->n_schema));
    json_object_set_new(o, "online", json_boolean(v->online));
    json_object_set_new(o, "offline", json_boolean(v->offline));
    common_tail(o, v->description, v->owner, &v->tags);
    return o;
}

static json_t *service_json(const ldr_service *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", jstr(s->name));
    json_t *fa = json_array();
    for (size_t i = 0; i < s->n_projections; i++) {
        const ldr_projection *p = &s->projections[i];
        json_t *po = json_object();
        json_object_set_new(po, "feature_view", jstr(p->view));
        json_object_set_new(po, "features",
                            p->n_features ? jnames(p->features, p->n_features) : json_null());
        json_object_set_new(po, "alias", *p->alias ? jstr(p->alias) : json_null());
        json_object_set_new(po, "join_key_map", jkvs(&p->join_key_map));
        json_array_append_new(fa, po);
    }
    json_object_set_new(o, "features", fa);
    common_tail(o, s->description, s->owner, &s->tags);
    return o;
}

static void emit_json(ldr_defs_emit_fn emit, void *ctx, const char *kind, const char *name,
                      json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    LDR_ASSERT(text != NULL);
    emit(ctx, kind, name, text);
    ldr_free(text); /* jansson allocates with malloc, which ldr_free releases */
    json_decref(o);
}

void ldr_defs_canonical(const ldr_defs *defs, ldr_defs_emit_fn emit, void *ctx)
{
    for (size_t i = 0; i < defs->n_entities; i++)
        emit_json(emit, ctx, "Entity", defs->entities[i].name, entity_json(&defs->entities[i]));
    for (size_t i = 0; i < defs->n_sources; i++)
        emit_json(emit, ctx, "DataSource", defs->sources[i].name, source_json(&defs->sources[i]));
    for (size_t i = 0; i < defs->n_views; i++)
        emit_json(emit, ctx, "FeatureView", defs->views[i].name, view_json(&defs->views[i]));
    for (size_t i = 0; i < defs->n_services; i++)
        emit_json(emit, ctx, "FeatureService", defs->services[i].name,
                  service_json(&defs->services[i]));
}
