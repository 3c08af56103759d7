#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"

Test(common_error, every_code_has_a_distinct_name_and_text)
{
    for (int e = CIR_EAGAIN; e > CIR_ERR_LAST; e--) {
        cr_assert_str_neq(cir_strerror(e), "unknown error", "code %d", e);
        cr_assert_str_neq(cir_errname(e), "unknown", "code %d", e);
        for (int f = CIR_EAGAIN; f > e; f--) {
            cr_assert_str_neq(cir_strerror(e), cir_strerror(f));
            cr_assert_str_neq(cir_errname(e), cir_errname(f));
        }
    }
}

Test(common_error, names_are_the_enum_names)
{
    cr_assert_str_eq(cir_errname(CIR_OK), "CIR_OK");
    cr_assert_str_eq(cir_errname(CIR_ELIMIT), "CIR_ELIMIT");
    cr_assert_str_eq(cir_errname(CIR_EINTERNAL), "CIR_EINTERNAL");
    cr_assert_str_eq(cir_strerror(CIR_OK), "success");
}

Test(common_error, errno_values_pass_through)
{
    cr_assert_str_eq(cir_strerror(-ENOENT), strerror(ENOENT));
    cr_assert_str_eq(cir_strerror(-EACCES), strerror(EACCES));
    cr_assert_str_eq(cir_errname(-ENOENT), "errno");
}

Test(common_error, unknown_codes_are_named_unknown)
{
    cr_assert_str_eq(cir_strerror(CIR_ERR_LAST), "unknown error");
    cr_assert_str_eq(cir_strerror(-30000), "unknown error");
    cr_assert_str_eq(cir_strerror(5), "unknown error");
    cr_assert_str_eq(cir_errname(-30000), "unknown");
}
