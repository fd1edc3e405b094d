/*
 * cmd_parquet.c -- placeholder; being written.
 */
typedef int ldr__placeholder_cmd_parquet;
