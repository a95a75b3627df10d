/*
 * test_keys.c: key secrets and ids, keyed hashing, header parsing, the
 * server secret file and log redaction.
 */

#include "common/accounts/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fg_test.h"

static const uint8_t server_a[FG_KEY_SERVER_SECRET_BYTES] = { 1, 2, 3 };
static const uint8_t server_b[FG_KEY_SERVER_SECRET_BYTES] = { 1, 2, 4 };

static char secret_path[96];

static const char *
fresh_secret_path(void)
{
    snprintf(secret_path, sizeof(secret_path),
             "/tmp/fg-test-keys-%d.secret", (int) getpid());
    unlink(secret_path);
    return secret_path;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
        FG_TEST_FAIL("cannot write %s", path);
    }
    fchmod(fd, mode);
    close(fd);
}

static void
generated_secret_and_id_have_the_documented_formats(void)
{
    char     secret[FG_KEY_SECRET_SIZE], id[FG_KEY_ID_SIZE];
    fg_err_t err;
    size_t   i;

    expect_int_eq(fg_key_generate(secret, sizeof(secret), id, sizeof(id),
                                  &err), FG_OK);
    expect_int_eq(strlen(secret), FG_KEY_SECRET_LEN);
    expect_int_eq(strlen(secret), 46);
    expect_true(strncmp(secret, "fg-", 3) == 0);
    expect_true(fg_key_secret_is_well_formed(secret, strlen(secret)));
    expect_int_eq(strlen(id), 20);
    expect_true(strncmp(id, "key_", 4) == 0);
    for (i = 4; i < strlen(id); i++) {
        expect_true(strchr("0123456789abcdef", id[i]) != NULL);
    }
}

static void
two_generated_keys_differ(void)
{
    char     s1[FG_KEY_SECRET_SIZE], s2[FG_KEY_SECRET_SIZE];
    char     i1[FG_KEY_ID_SIZE], i2[FG_KEY_ID_SIZE];
    fg_err_t err;

    expect_int_eq(fg_key_generate(s1, sizeof(s1), i1, sizeof(i1), &err),
                  FG_OK);
    expect_int_eq(fg_key_generate(s2, sizeof(s2), i2, sizeof(i2), &err),
                  FG_OK);
    expect_true(strcmp(s1, s2) != 0);
    expect_true(strcmp(i1, i2) != 0);
}

static void
generate_refuses_small_buffers_and_leaves_them_empty(void)
{
    char     secret[FG_KEY_SECRET_SIZE - 1], id[FG_KEY_ID_SIZE];
    fg_err_t err;

    memset(secret, 'x', sizeof(secret));
    expect_int_eq(fg_key_generate(secret, sizeof(secret), id, sizeof(id),
                                  &err), FG_ERR);
    expect_str_eq(secret, "");
    expect_str_eq(id, "");
}

static void
hash_is_deterministic_and_keyed_by_the_server_secret(void)
{
    uint8_t h1[FG_KEY_HASH_BYTES], h2[FG_KEY_HASH_BYTES];
    uint8_t h3[FG_KEY_HASH_BYTES], h4[FG_KEY_HASH_BYTES];
    const char *s = "fg-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fg_key_hash(server_a, s, strlen(s), h1);
    fg_key_hash(server_a, s, strlen(s), h2);
    fg_key_hash(server_b, s, strlen(s), h3);
    fg_key_hash(server_a, s, strlen(s) - 1, h4);
    expect_true(fg_key_hash_equal(h1, h2));
    expect_true(!fg_key_hash_equal(h1, h3));
    expect_true(!fg_key_hash_equal(h1, h4));
}

static void
hash_matches_libsodium_keyed_blake2b(void)
{
    uint8_t h[FG_KEY_HASH_BYTES], ref[FG_KEY_HASH_BYTES];

    fg_key_hash(server_a, "fg-x", 4, h);
    crypto_generichash(ref, sizeof(ref), (const unsigned char *) "fg-x", 4,
                       server_a, sizeof(server_a));
    expect_true(memcmp(h, ref, sizeof(h)) == 0);
}

static void
bearer_accepts_any_case_of_the_scheme(void)
{
    const char *s;
    size_t      n;

    expect_int_eq(fg_key_parse_bearer("Bearer fg-abc", &s, &n), FG_OK);
    expect_int_eq(n, 6);
    expect_true(strncmp(s, "fg-abc", n) == 0);
    expect_int_eq(fg_key_parse_bearer("bearer x", &s, &n), FG_OK);
    expect_int_eq(fg_key_parse_bearer("BEARER x", &s, &n), FG_OK);
    expect_int_eq(n, 1);
}

/* RFC 9110 11.4: credentials = auth-scheme [ 1*SP token68 ] (tabs too). */
static void
bearer_accepts_several_spaces_or_tabs_before_the_token(void)
{
    static const char *good[] = {
        "Bearer  fg-abc", "Bearer\tfg-abc", "Bearer \t  fg-abc",
        "bearer     fg-abc"
    };
    const char *s;
    size_t      i, n;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        s = NULL;
        n = 0;
        if (fg_key_parse_bearer(good[i], &s, &n) != FG_OK
            || n != 6 || strncmp(s, "fg-abc", n) != 0) {
            FG_TEST_FAIL("refused \"%s\"", good[i]);
        }
    }
}

static void
bearer_rejects_malformed_values(void)
{
    static const char *bad[] = {
        "", "Bearer", "Bearer ", "Bearer  ", "Bearer \t", "Bearerx",
        "Basic x", "Bearer x y", "Bearer x ", "Bearer x\ty", " Bearer x",
        "Bearer x\r", "Bearer \xc3\xa9", "Token x"
    };
    const char *s = NULL;
    size_t      i, n = 0;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fg_key_parse_bearer(bad[i], &s, &n) != FG_ERR) {
            FG_TEST_FAIL("accepted \"%s\"", bad[i]);
        }
    }
    expect_int_eq(fg_key_parse_bearer(NULL, &s, &n), FG_ERR);
    expect_true(s == NULL);
}

static void
bearer_token_is_capped_at_256_bytes(void)
{
    char        v[7 + FG_KEY_TOKEN_MAX + 2];
    const char *s;
    size_t      n;

    memcpy(v, "Bearer ", 7);
    memset(v + 7, 'a', FG_KEY_TOKEN_MAX);
    v[7 + FG_KEY_TOKEN_MAX] = '\0';
    expect_int_eq(fg_key_parse_bearer(v, &s, &n), FG_OK);
    expect_int_eq(n, FG_KEY_TOKEN_MAX);
    v[7 + FG_KEY_TOKEN_MAX] = 'a';
    v[8 + FG_KEY_TOKEN_MAX] = '\0';
    expect_int_eq(fg_key_parse_bearer(v, &s, &n), FG_ERR);
}

static void
api_key_header_takes_the_whole_value_as_the_token(void)
{
    const char *s;
    size_t      n;

    expect_int_eq(fg_key_parse_api_key("fg-abc", &s, &n), FG_OK);
    expect_int_eq(n, 6);
    expect_int_eq(fg_key_parse_api_key("", &s, &n), FG_ERR);
    expect_int_eq(fg_key_parse_api_key("fg-abc ", &s, &n), FG_ERR);
    expect_int_eq(fg_key_parse_api_key("Bearer fg-abc", &s, &n), FG_ERR);
}

static void
well_formed_secret_check_refuses_near_misses(void)
{
    char s[FG_KEY_SECRET_SIZE];

    memset(s, 'A', FG_KEY_SECRET_LEN);
    memcpy(s, "fg-", 3);
    s[FG_KEY_SECRET_LEN] = '\0';
    expect_true(fg_key_secret_is_well_formed(s, FG_KEY_SECRET_LEN));
    expect_true(!fg_key_secret_is_well_formed(s, FG_KEY_SECRET_LEN - 1));
    s[10] = '+';
    expect_true(!fg_key_secret_is_well_formed(s, FG_KEY_SECRET_LEN));
    s[10] = 'A';
    s[0] = 'F';
    expect_true(!fg_key_secret_is_well_formed(s, FG_KEY_SECRET_LEN));
}

static void
server_secret_is_created_0600_and_read_back_the_same(void)
{
    uint8_t     a[FG_KEY_SERVER_SECRET_BYTES], b[FG_KEY_SERVER_SECRET_BYTES];
    uint8_t     zero[FG_KEY_SERVER_SECRET_BYTES] = { 0 };
    const char *path = fresh_secret_path();
    char        tmp[128];
    struct stat st;
    fg_err_t    err;

    expect_int_eq(fg_key_server_secret_load_or_create(path, a, &err), FG_OK);
    expect_int_eq(stat(path, &st), 0);
    expect_int_eq(st.st_mode & 0777, 0600);
    expect_int_eq(st.st_size, 65);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    expect_true(access(tmp, F_OK) != 0);
    expect_int_eq(fg_key_server_secret_load_or_create(path, b, &err), FG_OK);
    expect_true(memcmp(a, b, sizeof(a)) == 0);
    expect_true(memcmp(a, zero, sizeof(a)) != 0);
    unlink(path);
}

static void
server_secret_creation_replaces_a_stale_temporary_file(void)
{
    uint8_t     a[FG_KEY_SERVER_SECRET_BYTES];
    const char *path = fresh_secret_path();
    char        tmp[128];
    fg_err_t    err;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    write_file(tmp, "half-writ", 0600);
    expect_int_eq(fg_key_server_secret_load_or_create(path, a, &err), FG_OK);
    expect_true(access(tmp, F_OK) != 0);
    unlink(path);
}

static void
server_secret_readable_by_others_is_refused(void)
{
    uint8_t     a[FG_KEY_SERVER_SECRET_BYTES];
    const char *path = fresh_secret_path();
    fg_err_t    err;

    write_file(path, "0000000000000000000000000000000000000000000000000000"
                     "000000000001\n", 0644);
    expect_int_eq(fg_key_server_secret_load_or_create(path, a, &err),
                  FG_ERR);
    expect_true(strstr(err.msg, "0644") != NULL);
    expect_true(strstr(err.msg, "chmod 600") != NULL);
    chmod(path, 0600);
    expect_int_eq(fg_key_server_secret_load_or_create(path, a, &err), FG_OK);
    expect_int_eq(a[31], 1);
    unlink(path);
}

static void
server_secret_of_the_wrong_length_or_not_hex_is_refused(void)
{
    static const char *bad[] = {
        "", "abcd\n", "00000000000000000000000000000000000000000000000000000"
        "00000000000\n\n", "0000000000000000000000000000000000000000000000000"
        "000000000000000a", "zz000000000000000000000000000000000000000000000"
        "00000000000000000\n"
    };
    uint8_t     a[FG_KEY_SERVER_SECRET_BYTES];
    const char *path = fresh_secret_path();
    fg_err_t    err;
    size_t      i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(path, bad[i], 0600);
        if (fg_key_server_secret_load_or_create(path, a, &err) != FG_ERR) {
            FG_TEST_FAIL("accepted secret file %zu", i);
        }
        expect_true(strstr(err.msg, "64 hex digits") != NULL);
    }
    unlink(path);
}

static void
redact_replaces_every_secret_and_keeps_the_rest(void)
{
    char   out[256];
    size_t n;

    n = fg_key_redact("auth fg-AAAAAAAAAAAAAAAAAAAAAAAA failed; "
                      "retry fg-b_b-b_b-b_b-b_b-b_b-b! id key_12", out,
                      sizeof(out));
    expect_str_eq(out, "auth " FG_KEY_REDACTED " failed; retry "
                       FG_KEY_REDACTED "! id key_12");
    expect_int_eq(n, strlen(out));
}

static void
redact_leaves_short_fg_words_alone(void)
{
    char out[64];

    fg_key_redact("fg-sim and fg-demo-provider", out, sizeof(out));
    expect_str_eq(out, "fg-sim and fg-demo-provider");
}

static void
redact_truncates_without_leaking_a_secret_byte(void)
{
    const char *in = "ab fg-SECRETSECRETSECRETSECRET";
    char        out[8];
    size_t      n;

    n = fg_key_redact(in, out, sizeof(out));
    expect_str_eq(out, "ab ");
    expect_int_eq(n, 3 + strlen(FG_KEY_REDACTED));
    n = fg_key_redact(in, NULL, 0);
    expect_int_eq(n, 3 + strlen(FG_KEY_REDACTED));
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(generated_secret_and_id_have_the_documented_formats),
        FG_TEST_CASE(two_generated_keys_differ),
        FG_TEST_CASE(generate_refuses_small_buffers_and_leaves_them_empty),
        FG_TEST_CASE(hash_is_deterministic_and_keyed_by_the_server_secret),
        FG_TEST_CASE(hash_matches_libsodium_keyed_blake2b),
        FG_TEST_CASE(bearer_accepts_any_case_of_the_scheme),
        FG_TEST_CASE(bearer_accepts_several_spaces_or_tabs_before_the_token),
        FG_TEST_CASE(bearer_rejects_malformed_values),
        FG_TEST_CASE(bearer_token_is_capped_at_256_bytes),
        FG_TEST_CASE(api_key_header_takes_the_whole_value_as_the_token),
        FG_TEST_CASE(well_formed_secret_check_refuses_near_misses),
        FG_TEST_CASE(server_secret_is_created_0600_and_read_back_the_same),
        FG_TEST_CASE(server_secret_creation_replaces_a_stale_temporary_file),
        FG_TEST_CASE(server_secret_readable_by_others_is_refused),
        FG_TEST_CASE(
            server_secret_of_the_wrong_length_or_not_hex_is_refused),
        FG_TEST_CASE(redact_replaces_every_secret_and_keeps_the_rest),
        FG_TEST_CASE(redact_leaves_short_fg_words_alone),
        FG_TEST_CASE(redact_truncates_without_leaking_a_secret_byte),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    return fg_test_run("keys", cases, sizeof(cases) / sizeof(cases[0]));
}
