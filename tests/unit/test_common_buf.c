#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_buf.h"
#include "cir_error.h"

Test(common_buf, append_keeps_data_nul_terminated)
{
    cir_buf_t b;

    cir_buf_init(&b, 64);
    cr_assert_eq(cir_buf_append(&b, "abc", 3), 0);
    cr_assert_eq(cir_buf_puts(&b, "def"), 0);
    cr_assert_eq(cir_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    cr_assert_eq(b.len, 11);
    cr_assert_str_eq(b.data, "abcdef-42-x");
    cr_assert_eq(b.data[b.len], '\0');
    cir_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
}

Test(common_buf, filling_exactly_to_the_maximum_succeeds)
{
    cir_buf_t b;
    char block[100];

    memset(block, 'a', sizeof(block));
    cir_buf_init(&b, 100);
    cr_assert_eq(cir_buf_append(&b, block, 60), 0);
    cr_assert_eq(cir_buf_append(&b, block, 40), 0);
    cr_assert_eq(b.len, 100);
    cr_assert_eq(b.data[100], '\0');
    cr_assert_leq(b.cap, 101, "never allocates past max + 1");
    cir_buf_free(&b);
}

Test(common_buf, append_past_the_maximum_fails_and_leaves_the_buffer)
{
    cir_buf_t b;

    cir_buf_init(&b, 8);
    cr_assert_eq(cir_buf_puts(&b, "12345"), 0);
    cr_assert_eq(cir_buf_puts(&b, "6789"), CIR_ELIMIT);
    cr_assert_eq(b.len, 5);
    cr_assert_str_eq(b.data, "12345");
    cr_assert_eq(cir_buf_printf(&b, "%s", "abcd"), CIR_ELIMIT);
    cr_assert_str_eq(b.data, "12345");
    cr_assert_eq(cir_buf_printf(&b, "%d", 678), 0);
    cr_assert_str_eq(b.data, "12345678");
    cr_assert_eq(cir_buf_append(&b, "x", 1), CIR_ELIMIT);
    cir_buf_free(&b);
}

Test(common_buf, huge_lengths_do_not_wrap)
{
    cir_buf_t b;

    cir_buf_init(&b, 16);
    cr_assert_eq(cir_buf_puts(&b, "ab"), 0);
    cr_assert_eq(cir_buf_append(&b, "x", (size_t)-1), CIR_ELIMIT);
    cr_assert_eq(cir_buf_append(&b, "x", (size_t)-2), CIR_ELIMIT);
    cr_assert_eq(b.len, 2);
    cir_buf_free(&b);
}

Test(common_buf, zero_maximum_allows_only_empty)
{
    cir_buf_t b;

    cir_buf_init(&b, 0);
    cr_assert_eq(cir_buf_append(&b, "", 0), 0);
    cr_assert_not_null(b.data);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(cir_buf_puts(&b, "a"), CIR_ELIMIT);
    cir_buf_free(&b);
}

Test(common_buf, grows_across_many_appends)
{
    cir_buf_t b;

    cir_buf_init(&b, 100000);
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(cir_buf_printf(&b, "%04d", i % 10000), 0);
    }
    cr_assert_eq(b.len, 40000);
    cr_assert_eq(memcmp(b.data, "00000001", 8), 0);
    cr_assert_eq(memcmp(b.data + b.len - 4, "9999", 4), 0);
    cir_buf_free(&b);
}

Test(common_buf, reset_keeps_memory_detach_hands_it_over)
{
    cir_buf_t b;
    char *p;
    size_t len = 0;

    cir_buf_init(&b, 32);
    cr_assert_eq(cir_buf_puts(&b, "hello"), 0);
    cir_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(cir_buf_puts(&b, "world"), 0);
    p = cir_buf_detach(&b, &len);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(p, "world");
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    /* usable again after detach, still bounded */
    cr_assert_eq(cir_buf_puts(&b, "again"), 0);
    cr_assert_str_eq(b.data, "again");
    free(p);
    cir_buf_free(&b);
}
