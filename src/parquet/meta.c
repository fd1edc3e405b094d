/*
 * meta.c -- placeholder; being written.
 */
typedef int ldr__placeholder_meta;
