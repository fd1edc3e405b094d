/*
 * thrift_write.c -- placeholder; being written.
 */
typedef int ldr__placeholder_thrift_write;
