/*
 * test_loader.c -- unit tests for the repo module: YAML to objects, validation messages,
 * canonical JSON round trips and feature_store.yaml.
 */
#include "repo/repo.h"

#include "harness.h"

TEST(placeholder)
{
    CHECK(1);
}

int main(void)
{
    RUN(placeholder);
    return harness_done();
}
