/*
 * Suite "walg_list": WAL-G's own backup-list --detail --json output
 * (../shared/fixtures/walg/exporter_backup-list.json) parsed field by field and re-rendered
 * byte for byte (compact, pretty, plain JSON, tabwriter tables); sorting, LATEST, detail without
 * metadata, extended mode, empty lists and bad list input. Runs from the repository root.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_buf.h"
#include "walg_list.h"

#define SHARED "../shared/fixtures/walg/exporter_backup-list.json"
#define FIX "tests/fixtures/walg/"

struct expected_row {
    const char *backup_name;
    int64_t time_us;
    const char *wal_file_name;
    const char *storage_name;
    int64_t start_us;
    int64_t finish_us;
    const char *hostname;
    const char *data_dir;
    int64_t pg_version;
    uint64_t start_lsn;
    uint64_t finish_lsn;
    bool is_permanent;
    uint64_t system_identifier;
    int64_t uncompressed_size;
    int64_t compressed_size;
};

/* Typed out from the fixture by an independent (Python) parse. */
static const struct expected_row expected[] = {
    { "base_000000430000030600000060", INT64_C(1766196019896000), "000000430000030600000060", "default", INT64_C(1766196001793015), INT64_C(1766196018538578), "superpg", "/pgroot/data", 150015, UINT64_C(3325915299880), UINT64_C(3325916080832), false, UINT64_C(7507672962298572862), INT64_C(2604967632), INT64_C(858502390) },
    { "base_000000430000035900000062", INT64_C(1766714419805000), "000000430000035900000062", "default", INT64_C(1766714401427279), INT64_C(1766714419645021), "superpg", "/pgroot/data", 150015, UINT64_C(3682431139880), UINT64_C(3682432038696), false, UINT64_C(7507672962298572862), INT64_C(2716157648), INT64_C(902940802) },
    { "base_0000004300000371000000AB", INT64_C(1766887218311000), "0000004300000371000000AB", "default", INT64_C(1766887202049923), INT64_C(1766887218084199), "superpg", "/pgroot/data", 150015, UINT64_C(3786735091752), UINT64_C(3786735910720), false, UINT64_C(7507672962298572862), INT64_C(2753382094), INT64_C(917213565) },
    { "base_000000430000037B00000083", INT64_C(1766973617730000), "000000430000037B00000083", "default", INT64_C(1766973601426667), INT64_C(1766973617635581), "superpg", "/pgroot/data", 150015, UINT64_C(3829013676072), UINT64_C(3829014550160), false, UINT64_C(7507672962298572862), INT64_C(2769250000), INT64_C(923384637) },
    { "base_000000430000038500000003", INT64_C(1767060021804000), "000000430000038500000003", "default", INT64_C(1767060002064585), INT64_C(1767060021696316), "superpg", "/pgroot/data", 150015, UINT64_C(3869815875000), UINT64_C(3869816670880), false, UINT64_C(7507672962298572862), INT64_C(2782971598), INT64_C(927914660) },
    { "base_0000004300000388000000AC_D_000000430000038500000003", INT64_C(1767089220807000), "0000004300000388000000AC", "default", INT64_C(1767089211293562), INT64_C(1767089220682024), "superpg", "/pgroot/data", 150015, UINT64_C(3885536116952), UINT64_C(3885536563600), false, UINT64_C(7507672962298572862), INT64_C(928772120), INT64_C(386034756) },
    { "base_0000004300000388000000BB_D_0000004300000388000000AC", INT64_C(1767089411770000), "0000004300000388000000BB", "default", INT64_C(1767089402571453), INT64_C(1767089411511020), "superpg", "/pgroot/data", 150015, UINT64_C(3885787775016), UINT64_C(3885787953104), false, UINT64_C(7507672962298572862), INT64_C(399392194), INT64_C(209052691) },
    { "base_0000004300000388000000BD", INT64_C(1767089443196000), "0000004300000388000000BD", "default", INT64_C(1767089429014787), INT64_C(1767089442988768), "superpg", "/pgroot/data", 150015, UINT64_C(3885821329448), UINT64_C(3885821483056), false, UINT64_C(7507672962298572862), INT64_C(2792572624), INT64_C(932195603) },
    { "base_0000004300000388000000BF_D_0000004300000388000000BD", INT64_C(1767089525772000), "0000004300000388000000BF", "default", INT64_C(1767089523983685), INT64_C(1767089525576519), "superpg", "/pgroot/data", 150015, UINT64_C(3885854883880), UINT64_C(3885854891800), false, UINT64_C(7507672962298572862), INT64_C(2033506), INT64_C(711409) },
    { "base_0000004300000388000000C1_D_0000004300000388000000BF", INT64_C(1767089603083000), "0000004300000388000000C1", "default", INT64_C(1767089601450008), INT64_C(1767089602976624), "superpg", "/pgroot/data", 150015, UINT64_C(3885888438312), UINT64_C(3885888480280), false, UINT64_C(7507672962298572862), INT64_C(2238281), INT64_C(907716) },
    { "base_0000004400000388000000C7", INT64_C(1767089767505000), "0000004400000388000000C7", "default", INT64_C(1767089721329787), INT64_C(1767089767377248), "superpg", "/pgroot/data", 150015, UINT64_C(3885989101608), UINT64_C(3885990008048), false, UINT64_C(7507672962298572862), INT64_C(2791393810), INT64_C(931763965) },
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long len;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(data, 1, (size_t)len, f), (size_t)len);
    data[len] = '\0';
    fclose(f);
    if (len_out != NULL)
        *len_out = (size_t)len;
    return data;
}

static struct walg_list_entry *load_exporter(size_t *n)
{
    struct bk_error err = BK_ERROR_INIT;
    struct walg_list_entry *entries = NULL;
    size_t len;
    char *text = slurp(SHARED, &len);
    ck_assert_msg(walg_list_parse_json(text, len, SHARED, &entries, n, &err) == BK_OK, "%s", err.message);
    free(text);
    return entries;
}

static void render_eq(const struct walg_list_entry *e, size_t n, enum walg_list_style style, bool json, bool pretty,
                      const char *want)
{
    struct walg_list_opts opts = { style, json, pretty };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    bk_buf_init(&out, 1 << 24);
    ck_assert_msg(walg_list_render(e, n, &opts, &out, &err) == BK_OK, "%s", err.message);
    ck_assert_str_eq(bk_buf_str(&out), want);
    bk_buf_free(&out);
}

static void render_eq_file(const struct walg_list_entry *e, size_t n, enum walg_list_style style, bool json,
                           bool pretty, const char *path)
{
    char *want = slurp(path, NULL);
    render_eq(e, n, style, json, pretty, want);
    free(want);
}

START_TEST(test_parse_exporter_field_by_field)
{
    size_t n = 0;
    struct walg_list_entry *e = load_exporter(&n);
    ck_assert_uint_eq(n, N_EXPECTED);
    ck_assert_uint_eq(n, 11);
    for (size_t i = 0; i < n; i++) {
        const struct expected_row *x = &expected[i];
        const struct walg_metadata *m = &e[i].meta;
        ck_assert_str_eq(e[i].backup_name, x->backup_name);
        ck_assert_int_eq(e[i].modified_us, x->time_us);
        ck_assert_str_eq(e[i].wal_file_name, x->wal_file_name);
        ck_assert_str_eq(e[i].storage_name, x->storage_name);
        ck_assert(e[i].has_metadata);
        ck_assert(m->has_start_time);
        ck_assert_int_eq(m->start_time_us, x->start_us);
        ck_assert(m->has_finish_time);
        ck_assert_int_eq(m->finish_time_us, x->finish_us);
        ck_assert_str_eq(m->date_fmt, "%Y-%m-%dT%H:%M:%S.%fZ");
        ck_assert_str_eq(m->hostname, x->hostname);
        ck_assert_str_eq(m->data_dir, x->data_dir);
        ck_assert_int_eq(m->pg_version, x->pg_version);
        ck_assert_int_eq(m->pg_version, 150015);
        ck_assert_uint_eq(m->start_lsn, x->start_lsn);
        ck_assert_uint_eq(m->finish_lsn, x->finish_lsn);
        ck_assert_int_eq(m->is_permanent, x->is_permanent);
        ck_assert(m->has_system_identifier);
        ck_assert_uint_eq(m->system_identifier, x->system_identifier);
        ck_assert_uint_eq(m->system_identifier, UINT64_C(7507672962298572862));
        ck_assert_int_eq(m->uncompressed_size, x->uncompressed_size);
        ck_assert_int_eq(m->compressed_size, x->compressed_size);
        ck_assert_ptr_null(m->user_data);
    }
    walg_list_entries_free(e, n);
}
END_TEST

START_TEST(test_rerender_exporter)
{
    size_t n = 0;
    struct walg_list_entry *e = load_exporter(&n);
    render_eq_file(e, n, WALG_LIST_DETAIL, true, false, FIX "backup_list_detail_compact.json");
    render_eq_file(e, n, WALG_LIST_DETAIL, true, true, FIX "backup_list_detail_pretty.json");
    render_eq_file(e, n, WALG_LIST_PLAIN, true, false, FIX "backup_list_plain_compact.json");
    render_eq_file(e, n, WALG_LIST_PLAIN, false, false, FIX "backup_list_plain.txt");
    render_eq_file(e, n, WALG_LIST_DETAIL, false, false, FIX "backup_list_detail.txt");
    walg_list_entries_free(e, n);
}
END_TEST

static struct walg_list_entry *two_entries(void)
{
    struct bk_error err = BK_ERROR_INIT;
    struct walg_list_entry *e = calloc(2, sizeof(*e));
    ck_assert_int_eq(walg_list_entry_init(&e[0], "base_0000000100000003000000A2", INT64_C(1748739620000000), &err),
                     BK_OK);
    ck_assert_int_eq(walg_list_entry_init(&e[1], "my_backup", 0, &err), BK_OK);
    e[1].storage_name = strdup("s3-eu");
    return e;
}

START_TEST(test_plain_table_and_json_small)
{
    struct walg_list_entry *e = two_entries();
    render_eq(e, 2, WALG_LIST_PLAIN, false, false,
              "backup_name                   modified             wal_file_name            storage_name\n"
              "base_0000000100000003000000A2 2025-06-01T01:00:20Z 0000000100000003000000A2 default\n"
              "my_backup                     -                    ZZZZZZZZZZZZZZZZZZZZZZZZ s3-eu\n");
    render_eq(e, 2, WALG_LIST_PLAIN, true, false,
              "[{\"backup_name\":\"base_0000000100000003000000A2\",\"time\":\"2025-06-01T01:00:20Z\","
              "\"wal_file_name\":\"0000000100000003000000A2\",\"storage_name\":\"default\"},"
              "{\"backup_name\":\"my_backup\",\"time\":\"0001-01-01T00:00:00Z\",\"wal_file_name\":\"ZZZZZZZZZZZZZZZZZZZZZZZZ\","
              "\"storage_name\":\"s3-eu\"}]\n");
    render_eq(e, 1, WALG_LIST_PLAIN, true, true,
              "[\n    {\n        \"backup_name\": \"base_0000000100000003000000A2\",\n"
              "        \"time\": \"2025-06-01T01:00:20Z\",\n        \"wal_file_name\": \"0000000100000003000000A2\",\n"
              "        \"storage_name\": \"default\"\n    }\n]\n");
    walg_list_entries_free(e, 2);
}
END_TEST

START_TEST(test_extended_mode)
{
    struct bk_error err = BK_ERROR_INIT;
    struct walg_list_entry *e = calloc(2, sizeof(*e));
    ck_assert_int_eq(walg_list_entry_init(&e[0], "base_0000000100000003000000A2", INT64_C(1748739620000000), &err),
                     BK_OK);
    e[0].has_metadata = true;
    e[0].meta = (struct walg_metadata){ .has_start_time = true, .start_time_us = INT64_C(1748739602123456),
                                        .has_finish_time = true, .finish_time_us = INT64_C(1748739619654321),
                                        .pg_version = 160004, .start_lsn = UINT64_C(15602810920),
                                        .finish_lsn = UINT64_C(15602811192), .is_permanent = true,
                                        .uncompressed_size = 52428800, .compressed_size = 9437184 };
    e[0].meta.hostname = strdup("acid-db-0");
    e[0].meta.data_dir = strdup("/home/postgres/pgdata/pgroot/data");
    e[0].meta.date_fmt = strdup("%Y-%m-%dT%H:%M:%S.%fZ");
    e[0].meta.user_data = strdup("{\"b\":1,\"a\":2}");
    ck_assert_int_eq(walg_list_entry_init(&e[1], "base_0000000A0000000000000001", INT64_C(1748822400000000), &err),
                     BK_OK);
    render_eq(e, 2, WALG_LIST_EXTENDED, false, false,
              "backup_name                   modified             wal_file_name            storage_name start_time           finish_time          hostname  data_dir                          pg_version start_lsn  finish_lsn is_permanent timeline uncompressed_size compressed_size\n"
              "base_0000000100000003000000A2 2025-06-01T01:00:20Z 0000000100000003000000A2 default      2025-06-01T01:00:02Z 2025-06-01T01:00:19Z acid-db-0 /home/postgres/pgdata/pgroot/data 160004     3/A2000028 3/A2000138 true         1        52428800          9437184\n"
              "base_0000000A0000000000000001 2025-06-02T00:00:00Z 0000000A0000000000000001 default      -                    -                    -         -                                 -          -          -          -            10       -                 -\n");
    render_eq(e, 2, WALG_LIST_EXTENDED, true, false,
              "[{\"backup_name\":\"base_0000000100000003000000A2\",\"time\":\"2025-06-01T01:00:20Z\","
              "\"wal_file_name\":\"0000000100000003000000A2\",\"storage_name\":\"default\","
              "\"start_time\":\"2025-06-01T01:00:02.123456Z\",\"finish_time\":\"2025-06-01T01:00:19.654321Z\","
              "\"date_fmt\":\"%Y-%m-%dT%H:%M:%S.%fZ\",\"hostname\":\"acid-db-0\","
              "\"data_dir\":\"/home/postgres/pgdata/pgroot/data\",\"pg_version\":160004,\"start_lsn\":15602810920,"
              "\"finish_lsn\":15602811192,\"is_permanent\":true,\"system_identifier\":null,"
              "\"uncompressed_size\":52428800,\"compressed_size\":9437184,\"user_data\":{\"a\":2,\"b\":1},\"timeline\":1},"
              "{\"backup_name\":\"base_0000000A0000000000000001\",\"time\":\"2025-06-02T00:00:00Z\","
              "\"wal_file_name\":\"0000000A0000000000000001\",\"storage_name\":\"default\",\"timeline\":10}]\n");
    /* WAL-G's --detail refuses a backup without metadata.json */
    struct walg_list_opts opts = { WALG_LIST_DETAIL, false, false };
    struct bk_buf out;
    bk_buf_init(&out, 1 << 20);
    ck_assert_int_eq(walg_list_render(e, 2, &opts, &out, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.message, "backup \"base_0000000A0000000000000001\" has no metadata.json");
    ck_assert_str_eq(err.object, "base_0000000A0000000000000001");
    ck_assert_uint_eq(out.len, 0);
    bk_buf_free(&out);
    walg_list_entries_free(e, 2);
}
END_TEST

START_TEST(test_empty_list)
{
    static const enum walg_list_style styles[] = { WALG_LIST_PLAIN, WALG_LIST_DETAIL, WALG_LIST_EXTENDED };
    for (size_t s = 0; s < 3; s++) {
        render_eq(NULL, 0, styles[s], false, false, "");
        render_eq(NULL, 0, styles[s], true, false, "");
    }
    ck_assert_ptr_null(walg_list_latest(NULL, 0));
}
END_TEST

static void set_entry(struct walg_list_entry *e, const char *name, int64_t modified, bool meta, int64_t start)
{
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(walg_list_entry_init(e, name, modified, &err), BK_OK);
    e->has_metadata = meta;
    e->meta.has_start_time = meta;
    e->meta.start_time_us = start;
}

START_TEST(test_sort_and_latest)
{
    struct walg_list_entry *e = calloc(3, sizeof(*e));
    const struct walg_list_entry *latest;
    set_entry(&e[0], "base_A", 10, true, 5);
    set_entry(&e[1], "base_B", 5, true, 10);
    set_entry(&e[2], "base_C", 10, true, 1);
    walg_list_sort(e, 3, WALG_LIST_PLAIN);   /* by modified, ties by name */
    ck_assert_str_eq(e[0].backup_name, "base_B");
    ck_assert_str_eq(e[1].backup_name, "base_A");
    ck_assert_str_eq(e[2].backup_name, "base_C");
    walg_list_sort(e, 3, WALG_LIST_DETAIL);  /* every entry has start_time: by start_time */
    ck_assert_str_eq(e[0].backup_name, "base_C");
    ck_assert_str_eq(e[1].backup_name, "base_A");
    ck_assert_str_eq(e[2].backup_name, "base_B");
    e[1].meta.has_start_time = false;        /* one missing: back to modified */
    walg_list_sort(e, 3, WALG_LIST_DETAIL);
    ck_assert_str_eq(e[0].backup_name, "base_B");
    ck_assert_str_eq(e[1].backup_name, "base_A");
    ck_assert_str_eq(e[2].backup_name, "base_C");
    latest = walg_list_latest(e, 3);         /* tie on modified: the later name */
    ck_assert_str_eq(latest->backup_name, "base_C");
    walg_list_entries_free(e, 3);
}
END_TEST

START_TEST(test_sort_exporter)
{
    size_t n = 0;
    struct walg_list_entry *e = load_exporter(&n);
    /* reverse, then sort back */
    for (size_t i = 0; i < n / 2; i++) {
        struct walg_list_entry t = e[i];
        e[i] = e[n - 1 - i];
        e[n - 1 - i] = t;
    }
    ck_assert_str_eq(walg_list_latest(e, n)->backup_name, "base_0000004400000388000000C7");
    walg_list_sort(e, n, WALG_LIST_DETAIL);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(e[i].backup_name, expected[i].backup_name);
    walg_list_sort(e, n, WALG_LIST_PLAIN);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(e[i].backup_name, expected[i].backup_name);
    walg_list_entries_free(e, n);
}
END_TEST

START_TEST(test_parse_bad_lists)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        { "[{\"backup_name\":\"b\",\"start_lsn\":\"1\"}]", "backup list entry field \"start_lsn\" must be a number" },
        { "[{\"backup_name\":\"b\",\"time\":\"x\"}]", "backup list entry field \"time\" must be an RFC 3339 time" },
        { "[{\"backup_name\":7}]", "backup list entry field \"backup_name\" must be a string" },
        { "[{}]", "backup list entry has no \"backup_name\"" },
        { "[1]", "backup list entries must be JSON objects" },
        { "{}", "backup list must be a JSON array" },
        { "[{\"backup_name\":\"b\"", "backup list is not valid JSON: truncated" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        struct walg_list_entry *e = (struct walg_list_entry *)1;
        size_t n = 99;
        ck_assert_int_eq(walg_list_parse_json(cases[i].json, strlen(cases[i].json), "list.json", &e, &n, &err),
                         BK_EINVAL);
        ck_assert_str_eq(err.message, cases[i].message);
        ck_assert_ptr_null(e);
        ck_assert_uint_eq(n, 0);
    }
}
END_TEST

static Suite *walg_list_suite(void)
{
    Suite *s = suite_create("walg_list");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_exporter_field_by_field);
    tcase_add_test(tc, test_rerender_exporter);
    tcase_add_test(tc, test_plain_table_and_json_small);
    tcase_add_test(tc, test_extended_mode);
    tcase_add_test(tc, test_empty_list);
    tcase_add_test(tc, test_sort_and_latest);
    tcase_add_test(tc, test_sort_exporter);
    tcase_add_test(tc, test_parse_bad_lists);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walg_list_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
