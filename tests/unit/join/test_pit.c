/*
 * test_pit.c -- placeholder; being written.
 */
#include "harness.h"

TEST(placeholder)
{
    CHECK(1 + 1 == 2);
}

int main(void)
{
    RUN(placeholder);
    return harness_done();
}
