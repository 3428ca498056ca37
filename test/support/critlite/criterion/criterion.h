/* critlite: the small part of Criterion's API that corio's tests use,
 * for the builds where Criterion itself cannot run: under ThreadSanitizer
 * (Criterion's BoxFort arena wants fixed addresses inside TSan's reserved
 * ranges and aborts at start, Criterion issue #274) and in the AArch64
 * cross build (libcriterion-dev is not multi-arch installable). The same
 * test sources compile against either. Each test runs in a forked child,
 * as under Criterion; see critlite.c for the runner. */
#ifndef CRITLITE_CRITERION_H
#define CRITLITE_CRITERION_H

#include <stddef.h>
#include <string.h>

#define CRITLITE 1

struct crl_test {
  const char *suite;
  const char *name;
  void (*fn)(void);
  double timeout;  /* seconds; 0 = the runner's default */
  void (*init)(void);
  void (*fini)(void);
  int signal;      /* the test passes only if it dies of this signal */
  int exit_code;
  int disabled;
};

void crl_register(const struct crl_test *t);
void crl_check(int ok, int fatal, const char *expr, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void crl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void crl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                              \
  static void crl_fn_##suite##_##name(void);                                \
  static const struct crl_test crl_t_##suite##_##name = {                   \
      #suite, #name, crl_fn_##suite##_##name, __VA_ARGS__};                 \
  __attribute__((constructor)) static void crl_reg_##suite##_##name(void) { \
    crl_register(&crl_t_##suite##_##name);                                  \
  }                                                                         \
  static void crl_fn_##suite##_##name(void)

#define CRL_CHECK(fatal, cond, expr, ...) \
  crl_check(!!(cond), fatal, expr, __FILE__, __LINE__, "" __VA_ARGS__)

#define cr_assert(c, ...) CRL_CHECK(1, c, #c, __VA_ARGS__)
#define cr_assert_not(c, ...) CRL_CHECK(1, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) CRL_CHECK(1, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) CRL_CHECK(1, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) CRL_CHECK(1, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) CRL_CHECK(1, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) CRL_CHECK(1, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) CRL_CHECK(1, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) CRL_CHECK(1, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) CRL_CHECK(1, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) \
  CRL_CHECK(1, strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) \
  CRL_CHECK(1, strcmp((a), (b)) != 0, #a " differs from " #b, __VA_ARGS__)
#define cr_assert_fail(...) CRL_CHECK(1, 0, "fail", __VA_ARGS__)
#define cr_fail(...) CRL_CHECK(1, 0, "fail", __VA_ARGS__)
#define cr_expect(c, ...) CRL_CHECK(0, c, #c, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) CRL_CHECK(0, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_log_info(...) crl_log(__VA_ARGS__)
#define cr_log_warn(...) crl_log(__VA_ARGS__)
#define cr_skip_test(...) crl_skip("" __VA_ARGS__)

#endif
