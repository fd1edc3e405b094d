/*
 * reference.c -- placeholder; being written.
 */
typedef int ldr__placeholder_reference;
