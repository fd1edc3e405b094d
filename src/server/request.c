/*
 * request.c -- request bodies to typed requests (see ldr_srv_parse in server.h).
 *
 * The common /get-online-features body goes through the purpose-built parser of
 * request_fast.c; everything else, and everything that parser declines, through jansson.
 * jansson parses (strict: duplicate keys, invalid UTF-8, NULs and trailing bytes are
 * refused), after a linear pre-scan that refuses nesting deeper than the limit without
 * recursing. The tree is then walked once by a small schema per endpoint: every member
 * is known and typed, and everything kept is copied into the caller's arena so the tree
 * is freed before the request is served. Pure: no I/O and no global state, so the
 * libFuzzer target fuzz/http_request drives it with any bytes.
 *
 * Error classes map to HTTP statuses at the edge: LDR_ECORRUPT (400, not JSON),
 * LDR_EINVAL (422, not a valid request), LDR_ELIMIT (413, over a limit).
 */
#include "server/server.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "csv/csv.h"

/* ---- endpoints ----------------------------------------------------------------------------- */

static const char *const ep_paths[LDR_EP_COUNT] = {
    [LDR_EP_GET_ONLINE] = "/get-online-features",
    [LDR_EP_PUSH] = "/push",
    [LDR_EP_WRITE_ONLINE] = "/write-to-online-store",
    [LDR_EP_MATERIALIZE] = "/materialize",
    [LDR_EP_MATERIALIZE_INC] = "/materialize-incremental",
    [LDR_EP_HEALTH] = "/health",
    [LDR_EP_METRICS] = "/metrics",
    [LDR_EP_OTHER] = "other",
};

const char *ldr_srv_endpoint_path(ldr_srv_endpoint ep)
{
    return ep < LDR_EP_COUNT ? ep_paths[ep] : "other";
}

ldr_srv_endpoint ldr_srv_endpoint_of(const char *path, size_t len)
{
    for (int i = 0; i < LDR_EP_OTHER; i++) {
        size_t n = strlen(ep_paths[i]);
        if (n == len && !memcmp(path, ep_paths[i], n))
            return (ldr_srv_endpoint)i;
    }
    return LDR_EP_OTHER;
}

/* ---- JSON helpers ------------------------------------------------------------------------- */

/* Deepest nesting of arrays and objects, scanning the bytes once (strings skipped);
 * stops counting at limit + 1. Malformed input is left for the parser to name. */
static unsigned nesting_depth(const char *s, size_t len, unsigned limit)
{
    unsigned depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max && (max = depth) > limit)
                return max;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return max;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static ldr_code want(const json_t *j, json_type t, const char *what, const char *name, ldr_err *err)
{
    if (json_typeof(j) == t || (t == JSON_TRUE && json_is_boolean(j)))
        return LDR_OK;
    return ldr_err_setf(err, LDR_EINVAL, "'%s' must be %s, not %s", name, what, json_kind(j));
}

static char *copy_str(const json_t *j, ldr_arena *a)
{
    return ldr_arena_strndup(a, json_string_value(j), json_string_length(j));
}

/* A non-empty string member. */
static ldr_code get_name(const json_t *j, const char *member, ldr_arena *a, const char **out,
                         ldr_err *err)
{
    ldr_code rc = want(j, JSON_STRING, "a string", member, err);
    if (rc != LDR_OK)
        return rc;
    if (json_string_length(j) == 0)
        return ldr_err_setf(err, LDR_EINVAL, "'%s' must not be empty", member);
    *out = copy_str(j, a);
    return LDR_OK;
}

/* An optional boolean member (null means absent). */
static ldr_code get_bool(const json_t *j, const char *member, bool *out, ldr_err *err)
{
    if (json_is_null(j))
        return LDR_OK;
    ldr_code rc = want(j, JSON_TRUE, "true or false", member, err);
    if (rc == LDR_OK)
        *out = json_is_true(j);
    return rc;
}

/* A JSON scalar as a value: integer -> Int64, other number -> Float64, string, bool,
 * null (type Invalid). Arrays only when allow_array (one level, scalars inside). */
static ldr_code cell_of(const json_t *j, bool allow_array, const char *col, size_t row,
                        ldr_arena *a, ldr_value *out, ldr_err *err)
{
    memset(out, 0, sizeof *out);
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = ldr_value_null(LDR_TYPE_INVALID);
        return LDR_OK;
    case JSON_INTEGER:
        out->type = LDR_TYPE_INT64;
        out->u.i64 = (int64_t)json_integer_value(j);
        return LDR_OK;
    case JSON_REAL:
        out->type = LDR_TYPE_FLOAT64;
        out->u.f64 = json_real_value(j);
        return LDR_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        out->type = LDR_TYPE_BOOL;
        out->u.b = json_is_true(j);
        return LDR_OK;
    case JSON_STRING:
        out->type = LDR_TYPE_STRING;
        out->u.str.ptr = copy_str(j, a);
        out->u.str.len = json_string_length(j);
        return LDR_OK;
    case JSON_ARRAY:
        if (allow_array) {
            size_t n = json_array_size(j);
            ldr_value *items = ldr_arena_calloc(a, n ? n : 1, sizeof *items);
            for (size_t i = 0; i < n; i++) {
                ldr_code rc = cell_of(json_array_get(j, i), false, col, row, a, &items[i], err);
                if (rc != LDR_OK)
                    return rc;
            }
            out->type = LDR_SRV_JSON_ARRAY;
            out->u.list.items = items;
            out->u.list.n = n;
            return LDR_OK;
        }
        break;
    case JSON_OBJECT:
        break;
    }
    return ldr_err_setf(err, LDR_EINVAL, "'%s'[%zu] must be %s, not %s", col, row,
                        allow_array ? "a scalar or an array of scalars" : "a scalar", json_kind(j));
}

/* Column-oriented rows: {"col": [v, ...], ...} with equal lengths, at most max_rows. */
static ldr_code get_columns(json_t *obj, const char *member, bool allow_array, size_t max_rows,
                            ldr_arena *a, const char ***names, ldr_value ***cols, size_t *n_cols,
                            size_t *n_rows, ldr_err *err)
{
    ldr_code rc = want(obj, JSON_OBJECT, "an object of columns", member, err);
    if (rc != LDR_OK)
        return rc;
    size_t nc = json_object_size(obj);
    if (nc == 0)
        return ldr_err_setf(err, LDR_EINVAL, "'%s' has no columns", member);
    *names = ldr_arena_calloc(a, nc, sizeof **names);
    *cols = ldr_arena_calloc(a, nc, sizeof **cols);
    *n_cols = nc;
    size_t c = 0, rows = 0;
    const char *key;
    json_t *arr;
    json_object_foreach(obj, key, arr)
    {
        if (!*key)
            return ldr_err_setf(err, LDR_EINVAL, "'%s' has a column with an empty name", member);
        if (!json_is_array(arr))
            return ldr_err_setf(err, LDR_EINVAL,
                                "'%s': column '%s' must be an array of values, not %s", member, key,
                                json_kind(arr));
        size_t n = json_array_size(arr);
        if (n > max_rows)
            return ldr_err_setf(err, LDR_ELIMIT,
                                "'%s': column '%s' has %zu rows; the limit is %zu per request",
                                member, key, n, max_rows);
        if (c == 0)
            rows = n;
        else if (n != rows)
            return ldr_err_setf(err, LDR_EINVAL,
                                "'%s': column '%s' has %zu values but '%s' has %zu; every column "
                                "needs one value per row",
                                member, key, n, (*names)[0], rows);
        (*names)[c] = ldr_arena_strdup(a, key);
        (*cols)[c] = ldr_arena_calloc(a, n ? n : 1, sizeof ***cols);
        for (size_t i = 0; i < n; i++) {
            rc = cell_of(json_array_get(arr, i), allow_array, key, i, a, &(*cols)[c][i], err);
            if (rc != LDR_OK)
                return rc;
        }
        c++;
    }
    *n_rows = rows;
    return LDR_OK;
}

/* A list of non-empty strings, at most max. */
static ldr_code get_names(const json_t *arr, const char *member, size_t max, ldr_arena *a,
                          const char ***out, size_t *n_out, ldr_err *err)
{
    ldr_code rc = want(arr, JSON_ARRAY, "an array of strings", member, err);
    if (rc != LDR_OK)
        return rc;
    size_t n = json_array_size(arr);
    if (n > max)
        return ldr_err_setf(err, LDR_ELIMIT, "'%s' has %zu entries; the limit is %zu", member, n,
                            max);
    *out = ldr_arena_calloc(a, n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(arr, i);
        if (!json_is_string(s) || json_string_length(s) == 0)
            return ldr_err_setf(err, LDR_EINVAL, "'%s'[%zu] must be a non-empty string, not %s",
                                member, i, json_is_string(s) ? "\"\"" : json_kind(s));
        (*out)[i] = copy_str(s, a);
    }
    *n_out = n;
    return LDR_OK;
}

static ldr_code unknown_member(const char *key, const char *const *known, ldr_err *err)
{
    char q[LDR_QUOTE_BUFSZ];
    size_t n = 0;
    while (known[n])
        n++;
    const char *dym = ldr_did_you_mean(key, known, n);
    return ldr_err_setf(err, LDR_EINVAL, "unknown member \"%s\"%s%s%s",
                        ldr__quote(key, strlen(key), q), dym ? " (did you mean \"" : "",
                        dym ? dym : "", dym ? "\"?)" : "");
}

static ldr_code get_time(const json_t *j, const char *member, ldr_ts *out, ldr_err *err)
{
    ldr_code rc = want(j, JSON_STRING, "an RFC 3339 time string", member, err);
    if (rc == LDR_OK)
        rc = ldr_ts_parse(json_string_value(j), json_string_length(j), out, err);
    if (rc != LDR_OK && rc != LDR_EINVAL)
        return rc;
    if (rc != LDR_OK)
        ldr_err_prefix(err, "'%s': ", member);
    return rc;
}

/* ---- per endpoint ------------------------------------------------------------------------- */

static ldr_code parse_online(json_t *root, const ldr_srv_limits *lim, ldr_arena *a,
                             ldr_online_request *o, ldr_err *err)
{
    static const char *const known[] = {"entities",
                                        "features",
                                        "feature_service",
                                        "full_feature_names",
                                        "include_feature_view_version_metadata",
                                        NULL};
    const char *key;
    json_t *v;
    bool has_entities = false, ignored = false;
    ldr_code rc = LDR_OK;
    json_object_foreach(root, key, v)
    {
        if (!strcmp(key, "entities")) {
            const char **names;
            ldr_value **cols;
            rc = get_columns(v, key, false, lim->max_entities, a, &names, &cols, &o->n_entity_cols,
                             &o->n_rows, err);
            o->entity_names = names;
            o->entity_values = (const ldr_value *const *)cols;
            has_entities = true;
        } else if (!strcmp(key, "features")) {
            const char **f = NULL;
            if (!json_is_null(v))
                rc = get_names(v, key, lim->max_features, a, &f, &o->n_features, err);
            if (rc == LDR_OK && f && o->n_features == 0)
                rc = ldr_err_setf(err, LDR_EINVAL, "'features' is empty");
            o->features = f;
        } else if (!strcmp(key, "feature_service")) {
            if (!json_is_null(v))
                rc = get_name(v, key, a, &o->feature_service, err);
        } else if (!strcmp(key, "full_feature_names")) {
            rc = get_bool(v, key, &o->full_feature_names, err);
        } else if (!strcmp(key, "include_feature_view_version_metadata")) {
            rc = get_bool(v, key, &ignored, err); /* accepted; Feast's JSON omits it too */
        } else {
            rc = unknown_member(key, known, err);
        }
        if (rc != LDR_OK)
            return rc;
    }
    if (!has_entities)
        return ldr_err_setf(err, LDR_EINVAL, "'entities' is required");
    if ((o->features != NULL) == (o->feature_service != NULL))
        return ldr_err_setf(err, LDR_EINVAL,
                            "give either 'features' (a list of \"view:feature\") or "
                            "'feature_service', not %s",
                            o->features ? "both" : "neither");
    return LDR_OK;
}

static ldr_code parse_push(json_t *root, ldr_srv_endpoint ep, const ldr_srv_limits *lim,
                           ldr_arena *a, ldr_srv_push_req *p, ldr_err *err)
{
    static const char *const known_push[] = {
        "push_source_name", "df", "to", "allow_registry_cache", "transform_on_write", NULL};
    static const char *const known_write[] = {"feature_view_name", "df", "allow_registry_cache",
                                              "transform_on_write", NULL};
    bool is_push = ep == LDR_EP_PUSH;
    const char *name_key = is_push ? "push_source_name" : "feature_view_name";
    const char *key;
    json_t *v;
    bool has_df = false, ignored;
    ldr_code rc = LDR_OK;
    p->to = LDR_PUSH_ONLINE;
    json_object_foreach(root, key, v)
    {
        if (!strcmp(key, name_key)) {
            rc = get_name(v, key, a, is_push ? &p->push_source_name : &p->feature_view_name, err);
        } else if (!strcmp(key, "df")) {
            rc = get_columns(v, key, true, lim->max_entities, a, &p->df.names, &p->df.cols,
                             &p->df.n_cols, &p->df.n_rows, err);
            has_df = true;
        } else if (is_push && !strcmp(key, "to")) {
            rc =
                want(v, JSON_STRING, "\"online\", \"offline\" or \"online_and_offline\"", key, err);
            const char *s = rc == LDR_OK ? json_string_value(v) : "";
            if (rc == LDR_OK && !strcmp(s, "online"))
                p->to = LDR_PUSH_ONLINE;
            else if (rc == LDR_OK && !strcmp(s, "offline"))
                p->to = LDR_PUSH_OFFLINE;
            else if (rc == LDR_OK && !strcmp(s, "online_and_offline"))
                p->to = LDR_PUSH_BOTH;
            else if (rc == LDR_OK) {
                char q[LDR_QUOTE_BUFSZ];
                rc = ldr_err_setf(err, LDR_EINVAL,
                                  "'to' must be \"online\", \"offline\" or "
                                  "\"online_and_offline\", not \"%s\"",
                                  ldr__quote(s, json_string_length(v), q));
            }
        } else if (!strcmp(key, "allow_registry_cache") || !strcmp(key, "transform_on_write")) {
            rc = get_bool(v, key, &ignored, err);
        } else {
            rc = unknown_member(key, is_push ? known_push : known_write, err);
        }
        if (rc != LDR_OK)
            return rc;
    }
    if (!(is_push ? p->push_source_name : p->feature_view_name))
        return ldr_err_setf(err, LDR_EINVAL, "'%s' is required", name_key);
    if (!has_df)
        return ldr_err_setf(err, LDR_EINVAL, "'df' is required");
    return LDR_OK;
}

static ldr_code parse_mat(json_t *root, bool incremental, const ldr_srv_limits *lim, ldr_ts now,
                          ldr_arena *a, ldr_srv_mat_req *m, ldr_err *err)
{
    static const char *const known_full[] = {
        "start_ts", "end_ts", "feature_views", "disable_event_timestamp", "full_feature_names",
        "version",  NULL};
    static const char *const known_inc[] = {"end_ts", "feature_views", "full_feature_names",
                                            "version", NULL};
    const char *key;
    json_t *v;
    bool has_start = false, has_end = false, disable = false, ignored;
    ldr_code rc = LDR_OK;
    m->incremental = incremental;
    m->start = m->end = LDR_TS_NONE;
    json_object_foreach(root, key, v)
    {
        if (!incremental && !strcmp(key, "start_ts")) {
            has_start = !json_is_null(v);
            if (has_start)
                rc = get_time(v, key, &m->start, err);
        } else if (!strcmp(key, "end_ts")) {
            has_end = !json_is_null(v);
            if (has_end)
                rc = get_time(v, key, &m->end, err);
        } else if (!strcmp(key, "feature_views")) {
            if (!json_is_null(v))
                rc = get_names(v, key, lim->max_features, a, &m->views, &m->n_views, err);
            if (rc == LDR_OK && m->views && m->n_views == 0)
                m->views = NULL; /* [] means every view, as in Feast */
        } else if (!incremental && !strcmp(key, "disable_event_timestamp")) {
            rc = get_bool(v, key, &disable, err);
        } else if (!strcmp(key, "full_feature_names")) {
            rc = get_bool(v, key, &ignored, err);
        } else if (!strcmp(key, "version")) {
            if (!json_is_null(v))
                rc = want(v, JSON_STRING, "a string", key, err);
        } else {
            rc = unknown_member(key, incremental ? known_inc : known_full, err);
        }
        if (rc != LDR_OK)
            return rc;
    }
    if (incremental) {
        if (!has_end)
            return ldr_err_setf(err, LDR_EINVAL, "'end_ts' is required");
        return LDR_OK;
    }
    if (disable) {
        m->start = 0;
        m->end = now;
        return LDR_OK;
    }
    if (!has_start || !has_end)
        return ldr_err_setf(err, LDR_EINVAL,
                            "'start_ts' and 'end_ts' are required unless "
                            "'disable_event_timestamp' is true");
    if (m->start >= m->end)
        return ldr_err_setf(err, LDR_EINVAL, "'start_ts' must be before 'end_ts'");
    return LDR_OK;
}

/* ---- entry point --------------------------------------------------------------------------- */

ldr_code ldr_srv_parse(ldr_srv_endpoint ep, const char *body, size_t len, const ldr_srv_limits *lim,
                       ldr_ts now, ldr_arena *a, ldr_srv_request *out, ldr_err *err)
{
    memset(out, 0, sizeof *out);
    out->ep = ep;
    if (len > lim->max_body)
        return ldr_err_setf(err, LDR_ELIMIT, "the body has %zu bytes; the limit is %zu", len,
                            lim->max_body);
    if (len == 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "the request needs a JSON body");
    if (ep == LDR_EP_GET_ONLINE && ldr__srv_parse_online_fast(body, len, lim, a, &out->online))
        return LDR_OK;
    return ldr__srv_parse_json(ep, body, len, lim, now, a, out, err);
}

ldr_code ldr__srv_parse_json(ldr_srv_endpoint ep, const char *body, size_t len,
                             const ldr_srv_limits *lim, ldr_ts now, ldr_arena *a,
                             ldr_srv_request *out, ldr_err *err)
{
    memset(out, 0, sizeof *out);
    out->ep = ep;
    unsigned depth = nesting_depth(body, len, lim->max_depth);
    if (depth > lim->max_depth)
        return ldr_err_setf(err, LDR_ECORRUPT, "JSON nested deeper than %u levels", lim->max_depth);
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        ldr_code code =
            json_error_code(&je) == json_error_numeric_overflow ? LDR_EINVAL : LDR_ECORRUPT;
        return ldr_err_setf(err, code, "%s: %s at line %d, column %d",
                            code == LDR_EINVAL ? "number out of range" : "malformed JSON", je.text,
                            je.line, je.column);
    }
    ldr_code rc;
    if (!json_is_object(root)) {
        rc = ldr_err_setf(err, LDR_EINVAL, "the body must be a JSON object, not %s",
                          json_kind(root));
    } else {
        switch (ep) {
        case LDR_EP_GET_ONLINE:
            rc = parse_online(root, lim, a, &out->online, err);
            break;
        case LDR_EP_PUSH:
        case LDR_EP_WRITE_ONLINE:
            rc = parse_push(root, ep, lim, a, &out->push, err);
            break;
        case LDR_EP_MATERIALIZE:
        case LDR_EP_MATERIALIZE_INC:
            rc = parse_mat(root, ep == LDR_EP_MATERIALIZE_INC, lim, now, a, &out->mat, err);
            break;
        default:
            rc = ldr_err_setf(err, LDR_EINVAL, "%s takes no body", ldr_srv_endpoint_path(ep));
            break;
        }
    }
    json_decref(root);
    return rc;
}

/* ---- cells to typed values ------------------------------------------------------------------ */

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, padding optional. */
static bool b64_decode(const char *s, size_t len, ldr_arena *a, ldr_value *out)
{
    while (len && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return false;
    unsigned char *dst = ldr_arena_alloc(a, len / 4 * 3 + 3);
    size_t n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        int d = b64_digit((unsigned char)s[i]);
        if (d < 0)
            return false;
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (unsigned char)(acc >> bits);
        }
    }
    out->u.str.ptr = (const char *)dst;
    out->u.str.len = n;
    return true;
}

/* Outcomes of a conversion: the message differs for a value out of range. */
enum { CONV_OK = 0, CONV_BAD, CONV_RANGE };

static int convert_scalar(const ldr_value *c, ldr_type to, bool key, ldr_arena *a, ldr_value *o)
{
    *o = ldr_value_null(to);
    o->is_null = false;
    bool is_int = c->type == LDR_TYPE_INT64, is_num = is_int || c->type == LDR_TYPE_FLOAT64;
    double d = is_int ? (double)c->u.i64 : c->u.f64;
    switch (to) {
    case LDR_TYPE_INT32:
    case LDR_TYPE_INT64: {
        int64_t lo = to == LDR_TYPE_INT32 ? INT32_MIN : INT64_MIN;
        int64_t hi = to == LDR_TYPE_INT32 ? INT32_MAX : INT64_MAX;
        int64_t v;
        if (is_int)
            v = c->u.i64;
        else if (c->type == LDR_TYPE_FLOAT64 && d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
            v = (int64_t)d;
        else
            return CONV_BAD;
        if (v < lo || v > hi)
            return CONV_RANGE;
        if (to == LDR_TYPE_INT32)
            o->u.i32 = (int32_t)v;
        else
            o->u.i64 = v;
        return CONV_OK;
    }
    case LDR_TYPE_FLOAT32:
    case LDR_TYPE_FLOAT64:
        if (!is_num)
            return CONV_BAD;
        if (to == LDR_TYPE_FLOAT32 && isfinite(d) && fabs(d) > 3.4028234663852886e38)
            return CONV_RANGE;
        if (to == LDR_TYPE_FLOAT32)
            o->u.f32 = (float)d;
        else
            o->u.f64 = d;
        return CONV_OK;
    case LDR_TYPE_BOOL:
        if (c->type != LDR_TYPE_BOOL)
            return CONV_BAD;
        o->u.b = c->u.b;
        return CONV_OK;
    case LDR_TYPE_STRING:
        if (c->type == LDR_TYPE_STRING) {
            o->u.str = c->u.str;
            return CONV_OK;
        }
        if (key && is_int) {
            const char *s = ldr_arena_sprintf(a, "%lld", (long long)c->u.i64);
            o->u.str.ptr = s;
            o->u.str.len = strlen(s);
            return CONV_OK;
        }
        return CONV_BAD;
    case LDR_TYPE_BYTES:
        if (c->type == LDR_TYPE_STRING && b64_decode(c->u.str.ptr, c->u.str.len, a, o))
            return CONV_OK;
        return CONV_BAD;
    case LDR_TYPE_UNIX_TIMESTAMP:
        if (c->type == LDR_TYPE_STRING)
            return ldr_ts_parse(c->u.str.ptr, c->u.str.len, &o->u.ts, NULL) == LDR_OK ? CONV_OK
                                                                                      : CONV_BAD;
        if (is_num && isfinite(d) && fabs(d) < 9.2e12) {
            o->u.ts = is_int ? c->u.i64 * 1000000 : (ldr_ts)llround(d * 1e6);
            return CONV_OK;
        }
        return CONV_BAD;
    default:
        return CONV_BAD;
    }
}

static const char *cell_kind(const ldr_value *c)
{
    if (c->is_null)
        return "null";
    switch (c->type) {
    case LDR_TYPE_INT64:
        return "an integer";
    case LDR_TYPE_FLOAT64:
        return "a number";
    case LDR_TYPE_BOOL:
        return "a boolean";
    case LDR_TYPE_STRING:
        return "a string";
    case LDR_SRV_JSON_ARRAY:
        return "an array";
    default:
        return "a value";
    }
}

ldr_code ldr_srv_cell_convert(const ldr_value *cell, ldr_type to, bool key, const char *col,
                              size_t row, ldr_arena *a, ldr_value *out, ldr_err *err)
{
    if (cell->is_null) {
        *out = ldr_value_null(to);
        return LDR_OK;
    }
    int rc = CONV_BAD;
    if (ldr_type_is_list(to)) {
        if (cell->type == LDR_SRV_JSON_ARRAY) {
            ldr_type et = ldr_type_elem(to);
            size_t n = cell->u.list.n;
            ldr_value *items = ldr_arena_calloc(a, n ? n : 1, sizeof *items);
            rc = CONV_OK;
            for (size_t i = 0; i < n && rc == CONV_OK; i++) {
                const ldr_value *e = &cell->u.list.items[i];
                if (e->is_null)
                    items[i] = ldr_value_null(et);
                else
                    rc = convert_scalar(e, et, false, a, &items[i]);
            }
            *out = ldr_value_null(to);
            out->is_null = false;
            out->u.list.items = items;
            out->u.list.n = n;
        }
    } else if (cell->type != LDR_SRV_JSON_ARRAY) {
        rc = convert_scalar(cell, to, key, a, out);
    }
    if (rc == CONV_OK)
        return LDR_OK;
    return ldr_err_setf(err, LDR_EINVAL, "column '%s', row %zu: %s is %s %s", col, row,
                        cell_kind(cell), rc == CONV_RANGE ? "out of range for" : "not a valid",
                        ldr_type_name(to));
}

/* ---- errors --------------------------------------------------------------------------------- */

ldr_code ldr_srv_error_json(ldr_buf *out, const char *type, const char *msg, ldr_err *err)
{
    ldr_code rc = ldr_buf_puts(out, "{\"error\":{\"type\":", err);
    if (rc == LDR_OK)
        rc = ldr_json_put_string(out, type, strlen(type), err);
    if (rc == LDR_OK)
        rc = ldr_buf_puts(out, ",\"message\":", err);
    if (rc == LDR_OK)
        rc = ldr_json_put_string(out, msg, strlen(msg), err);
    if (rc == LDR_OK)
        rc = ldr_buf_puts(out, "}}", err);
    return rc;
}
