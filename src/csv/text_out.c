/*
 * text_out.c -- placeholder; being written.
 */
typedef int ldr__placeholder_text_out;
