/*
 * Suite "walg_names": LSN text, segment math for 1, 16 and 64 MiB segments (boundaries, the last
 * possible segment, LSN 0/0 and the maximum), WAL file names PostgreSQL passes to archive and
 * restore commands, backup names (full, delta, WAL-E), object keys and extension -> codec.
 * Every failure is checked for its code and exact message.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "walg_names.h"

#define MIB (UINT64_C(1) << 20)

/* ---- LSNs ---- */

START_TEST(test_lsn_parse_ok)
{
    struct bk_error err = BK_ERROR_INIT;
    uint64_t v = 1;
    ck_assert_int_eq(walg_lsn_parse("3/A2000028", &v, &err), BK_OK);
    ck_assert_uint_eq(v, UINT64_C(15602810920));
    ck_assert_int_eq(walg_lsn_parse("0/0", &v, &err), BK_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(walg_lsn_parse("FFFFFFFF/FFFFFFFF", &v, &err), BK_OK);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(walg_lsn_parse("3/a2000028", &v, &err), BK_OK);
    ck_assert_uint_eq(v, UINT64_C(15602810920));
    ck_assert_int_eq(walg_lsn_parse("00000001/00000000", &v, &err), BK_OK);
    ck_assert_uint_eq(v, UINT64_C(0x100000000));
}
END_TEST

START_TEST(test_lsn_parse_bad)
{
    static const char *const bad[] = { "", "3", "3/", "/1", "123456789/0", "0/123456789", "3/A2000028 ",
                                       " 3/A2000028", "G/0", "-1/0", "3/+1", "3//1", "3/A/1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        uint64_t v = 7;
        char want[128];
        ck_assert_int_eq(walg_lsn_parse(bad[i], &v, &err), BK_EINVAL);
        ck_assert_int_eq(err.code, BK_EINVAL);
        snprintf(want, sizeof(want), "\"%s\" is not an LSN (expected e.g. 3/A2000028)", bad[i]);
        ck_assert_str_eq(err.message, want);
        ck_assert_uint_eq(v, 7);
    }
}
END_TEST

START_TEST(test_lsn_format)
{
    char out[WALG_LSN_STR_CAP];
    walg_lsn_format(UINT64_C(15602810920), out, sizeof(out));
    ck_assert_str_eq(out, "3/A2000028");
    walg_lsn_format(0, out, sizeof(out));
    ck_assert_str_eq(out, "0/0");
    walg_lsn_format(UINT64_MAX, out, sizeof(out));
    ck_assert_str_eq(out, "FFFFFFFF/FFFFFFFF");
    walg_lsn_format(UINT64_C(0x100000000), out, sizeof(out));
    ck_assert_str_eq(out, "1/0");
    walg_lsn_format(UINT64_C(3325915299880), out, sizeof(out));   /* exporter fixture start_lsn */
    ck_assert_str_eq(out, "306/60000028");
}
END_TEST

/* ---- segments ---- */

START_TEST(test_seg_size_check)
{
    static const uint64_t good[] = { 1 * MIB, 2 * MIB, 16 * MIB, 64 * MIB, 1024 * MIB };
    static const uint64_t bad[] = { 0, 512 * 1024, 3 * MIB, 2048 * MIB, 16 * MIB + 1 };
    struct bk_error err = BK_ERROR_INIT;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_int_eq(walg_seg_size_check(good[i], &err), BK_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];
        ck_assert_int_eq(walg_seg_size_check(bad[i], &err), BK_EINVAL);
        snprintf(want, sizeof(want), "WAL segment size %llu is not a power of two between 1 MiB and 1 GiB",
                 (unsigned long long)bad[i]);
        ck_assert_str_eq(err.message, want);
    }
}
END_TEST

START_TEST(test_segment_names_16mib)
{
    char name[25];
    uint64_t lsn = UINT64_C(0x3A2000028);
    ck_assert_uint_eq(walg_lsn_to_segno(lsn, 16 * MIB), 0x3A2);
    walg_wal_name_format(1, walg_lsn_to_segno(lsn, 16 * MIB), 16 * MIB, name);
    ck_assert_str_eq(name, "0000000100000003000000A2");
    /* exact segment start and the byte before it */
    ck_assert_uint_eq(walg_lsn_to_segno(UINT64_C(0x3A2000000), 16 * MIB), 0x3A2);
    walg_wal_name_format(1, walg_lsn_to_segno(UINT64_C(0x3A1FFFFFF), 16 * MIB), 16 * MIB, name);
    ck_assert_str_eq(name, "0000000100000003000000A1");
    ck_assert_uint_eq(walg_segno_to_lsn(0x3A2, 16 * MIB), UINT64_C(0x3A2000000));
    /* LSN 0/0 and the maximum */
    walg_wal_name_format(1, walg_lsn_to_segno(0, 16 * MIB), 16 * MIB, name);
    ck_assert_str_eq(name, "000000010000000000000000");
    walg_wal_name_format(1, walg_lsn_to_segno(UINT64_MAX, 16 * MIB), 16 * MIB, name);
    ck_assert_str_eq(name, "00000001FFFFFFFF000000FF");
    /* crossing an xlogid: ...FF is followed by the next log id */
    walg_wal_name_format(0x43, walg_lsn_to_segno(UINT64_C(0x3FFFFFFFF), 16 * MIB) + 1, 16 * MIB, name);
    ck_assert_str_eq(name, "000000430000000400000000");
}
END_TEST

START_TEST(test_segment_names_1mib_64mib)
{
    char name[25];
    uint64_t lsn = UINT64_C(0x3A2000028);
    walg_wal_name_format(1, walg_lsn_to_segno(lsn, 1 * MIB), 1 * MIB, name);
    ck_assert_str_eq(name, "000000010000000300000A20");
    walg_wal_name_format(1, walg_lsn_to_segno(lsn, 64 * MIB), 64 * MIB, name);
    ck_assert_str_eq(name, "000000010000000300000028");
    walg_wal_name_format(1, walg_lsn_to_segno(UINT64_MAX, 1 * MIB), 1 * MIB, name);
    ck_assert_str_eq(name, "00000001FFFFFFFF00000FFF");
    walg_wal_name_format(1, walg_lsn_to_segno(UINT64_MAX, 64 * MIB), 64 * MIB, name);
    ck_assert_str_eq(name, "00000001FFFFFFFF0000003F");
    walg_wal_name_format(1, walg_lsn_to_segno(UINT64_MAX, 1024 * MIB), 1024 * MIB, name);
    ck_assert_str_eq(name, "00000001FFFFFFFF00000003");
}
END_TEST

START_TEST(test_wal_name_parse)
{
    struct bk_error err = BK_ERROR_INIT;
    uint32_t tli = 0;
    uint64_t segno = 0;
    ck_assert_int_eq(walg_wal_name_parse("0000000100000003000000A2", 16 * MIB, &tli, &segno, &err), BK_OK);
    ck_assert_uint_eq(tli, 1);
    ck_assert_uint_eq(segno, 0x3A2);
    ck_assert_int_eq(walg_wal_name_parse("000000010000000300000A20", 1 * MIB, &tli, &segno, &err), BK_OK);
    ck_assert_uint_eq(segno, 3 * 4096 + 0xA20);
    ck_assert_int_eq(walg_wal_name_parse("00000043FFFFFFFF0000003F", 64 * MIB, &tli, &segno, &err), BK_OK);
    ck_assert_uint_eq(tli, 0x43);
    ck_assert_uint_eq(segno, walg_lsn_to_segno(UINT64_MAX, 64 * MIB));
    /* low part too large for the segment size */
    ck_assert_int_eq(walg_wal_name_parse("000000010000000300000100", 16 * MIB, &tli, &segno, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"000000010000000300000100\" is not a WAL segment name for 16 MiB segments");
    ck_assert_int_eq(walg_wal_name_parse("000000010000000300000040", 64 * MIB, &tli, &segno, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"000000010000000300000040\" is not a WAL segment name for 64 MiB segments");
    ck_assert_int_eq(walg_wal_name_parse("000000010000000300000100", 1 * MIB, &tli, &segno, &err), BK_OK);
    ck_assert_int_eq(walg_wal_name_parse("0000000100000003000000a2", 16 * MIB, &tli, &segno, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"0000000100000003000000a2\" is not a WAL segment name");
    ck_assert_int_eq(walg_wal_name_parse("00000002.history", 16 * MIB, &tli, &segno, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"00000002.history\" is not a WAL segment name");
    ck_assert_int_eq(walg_wal_name_parse("0000000100000003000000A2", 3 * MIB, &tli, &segno, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "WAL segment size 3145728 is not a power of two between 1 MiB and 1 GiB");
}
END_TEST

START_TEST(test_wal_name_next)
{
    struct bk_error err = BK_ERROR_INIT;
    char next[25];
    ck_assert_int_eq(walg_wal_name_next("0000000100000003000000A2", 16 * MIB, next, &err), BK_OK);
    ck_assert_str_eq(next, "0000000100000003000000A3");
    ck_assert_int_eq(walg_wal_name_next("0000000100000003000000FF", 16 * MIB, next, &err), BK_OK);
    ck_assert_str_eq(next, "000000010000000400000000");
    ck_assert_int_eq(walg_wal_name_next("000000010000000300000FFF", 1 * MIB, next, &err), BK_OK);
    ck_assert_str_eq(next, "000000010000000400000000");
    ck_assert_int_eq(walg_wal_name_next("00000001000000030000003F", 64 * MIB, next, &err), BK_OK);
    ck_assert_str_eq(next, "000000010000000400000000");
    ck_assert_int_eq(walg_wal_name_next("000000020000000000000000", 16 * MIB, next, &err), BK_OK);
    ck_assert_str_eq(next, "000000020000000000000001");
    ck_assert_int_eq(walg_wal_name_next("00000001FFFFFFFF000000FF", 16 * MIB, next, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"00000001FFFFFFFF000000FF\" is the last possible WAL segment");
    ck_assert_int_eq(walg_wal_name_next("00000002.history", 16 * MIB, next, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"00000002.history\" is not a WAL segment name");
}
END_TEST

START_TEST(test_wal_name_check)
{
    struct bk_error err = BK_ERROR_INIT;
    enum walg_wal_kind kind = WALG_WAL_HISTORY;
    uint32_t tli = 0;
    ck_assert_int_eq(walg_wal_name_check("0000000100000003000000A2", &kind, &err), BK_OK);
    ck_assert_int_eq(kind, WALG_WAL_SEGMENT);
    ck_assert_int_eq(walg_wal_name_check("00000002.history", &kind, &err), BK_OK);
    ck_assert_int_eq(kind, WALG_WAL_HISTORY);
    ck_assert_int_eq(walg_wal_name_check("000000010000000300000041.partial", &kind, &err), BK_OK);
    ck_assert_int_eq(kind, WALG_WAL_PARTIAL);
    ck_assert_int_eq(walg_wal_name_check("0000000100000003000000A2.00000028.backup", &kind, &err), BK_OK);
    ck_assert_int_eq(kind, WALG_WAL_BACKUP_LABEL);
    /* timeline switch: the old timeline's last segment, the history file, the new timeline */
    ck_assert_int_eq(walg_wal_name_timeline("000000010000000300000041.partial", &tli, &err), BK_OK);
    ck_assert_uint_eq(tli, 1);
    ck_assert_int_eq(walg_wal_name_timeline("00000002.history", &tli, &err), BK_OK);
    ck_assert_uint_eq(tli, 2);
    ck_assert_int_eq(walg_wal_name_timeline("000000020000000300000041", &tli, &err), BK_OK);
    ck_assert_uint_eq(tli, 2);
    ck_assert_int_eq(walg_wal_name_timeline("0000004400000388000000C7.00000028.backup", &tli, &err), BK_OK);
    ck_assert_uint_eq(tli, 0x44);
}
END_TEST

START_TEST(test_wal_name_check_bad)
{
    static const char *const bad[] = {
        "", "00000001000000030000004", "0000000100000003000000A20", "0000000100000003000000a2",
        "00000002.History", "0000002.history", "000000010000000300000041.partial.lz4",
        "0000000100000003000000A2.00000028.backup.x", "0000000100000003000000A2.0000028.backup",
        "../etc/passwd", "RECOVERYHISTORY", "00000002.history ", "wal_005/0000000100000003000000A2",
        "0000000100000003000000A2.lz4", "000000010000000300000041_delta",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        enum walg_wal_kind kind;
        uint32_t tli;
        char want[160];
        ck_assert_int_eq(walg_wal_name_check(bad[i], &kind, &err), BK_EINVAL);
        snprintf(want, sizeof(want), "\"%s\" is not a WAL file name", bad[i]);
        ck_assert_str_eq(err.message, want);
        ck_assert_int_eq(walg_wal_name_timeline(bad[i], &tli, &err), BK_EINVAL);
        ck_assert_str_eq(err.message, want);
    }
}
END_TEST

/* ---- backup names ---- */

START_TEST(test_backup_name_parse)
{
    struct bk_error err = BK_ERROR_INIT;
    struct walg_backup_name b;
    ck_assert_int_eq(walg_backup_name_parse("base_0000000100000003000000A2", &b, &err), BK_OK);
    ck_assert_str_eq(b.wal_file_name, "0000000100000003000000A2");
    ck_assert_uint_eq(b.timeline, 1);
    ck_assert(!b.is_delta);
    ck_assert(!b.has_wale_offset);

    ck_assert_int_eq(walg_backup_name_parse("base_0000004300000388000000AC_D_000000430000038500000003", &b, &err),
                     BK_OK);
    ck_assert_str_eq(b.wal_file_name, "0000004300000388000000AC");
    ck_assert_uint_eq(b.timeline, 0x43);
    ck_assert(b.is_delta);
    ck_assert_str_eq(b.delta_base_wal, "000000430000038500000003");

    ck_assert_int_eq(walg_backup_name_parse("base_00000001000000000000007F_00000040", &b, &err), BK_OK);
    ck_assert_str_eq(b.wal_file_name, "00000001000000000000007F");
    ck_assert(b.has_wale_offset);
    ck_assert_uint_eq(b.wale_offset, 0x40);
    ck_assert(!b.is_delta);

    ck_assert_int_eq(walg_backup_name_parse("base_000000010000000000000080_D_00000001000000000000007F_00000028",
                                            &b, &err), BK_OK);
    ck_assert(b.is_delta);
    ck_assert(b.has_wale_offset);
    ck_assert_uint_eq(b.wale_offset, 0x28);
}
END_TEST

START_TEST(test_backup_name_parse_bad)
{
    static const char *const bad[] = {
        "", "base_", "base_123", "base_0000000100000003000000a2", "Base_0000000100000003000000A2",
        "xbase_0000000100000003000000A2", "base_0000000100000003000000A2_", "base_0000000100000003000000A2_D_",
        "base_0000000100000003000000A2_D_000000430000038500000003_", "base_0000000100000003000000A2_0000004",
        "base_0000000100000003000000A2_000000400", "base_0000000100000003000000A2_backup_stop_sentinel.json",
        "base_0000000100000003000000A2/metadata.json", "base_0000000100000003000000A20",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        struct walg_backup_name b;
        char want[160];
        ck_assert_int_eq(walg_backup_name_parse(bad[i], &b, &err), BK_EINVAL);
        snprintf(want, sizeof(want), "\"%s\" is not a backup name", bad[i]);
        ck_assert_str_eq(err.message, want);
        ck_assert_uint_eq(b.timeline, 0);
    }
}
END_TEST

START_TEST(test_backup_name_format)
{
    struct bk_error err = BK_ERROR_INIT;
    char name[WALG_BACKUP_NAME_CAP];
    ck_assert_int_eq(walg_backup_name_format(1, 0x3A2, 16 * MIB, NULL, name, sizeof(name), &err), BK_OK);
    ck_assert_str_eq(name, "base_0000000100000003000000A2");
    ck_assert_int_eq(walg_backup_name_format(0x43, walg_lsn_to_segno(UINT64_C(3885536116952), 16 * MIB), 16 * MIB,
                                             "base_000000430000038500000003", name, sizeof(name), &err), BK_OK);
    ck_assert_str_eq(name, "base_0000004300000388000000AC_D_000000430000038500000003");
    /* the parent is itself a delta: only its first 24-hex group is used */
    ck_assert_int_eq(walg_backup_name_format(0x43, 0x388BB, 16 * MIB,
                                             "base_0000004300000388000000AC_D_000000430000038500000003", name,
                                             sizeof(name), &err), BK_OK);
    ck_assert_str_eq(name, "base_0000004300000388000000BB_D_0000004300000388000000AC");
    ck_assert_int_eq(walg_backup_name_format(1, 1, 16 * MIB, "my-backup", name, sizeof(name), &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "delta parent \"my-backup\" is not a backup name");
    ck_assert_int_eq(walg_backup_name_format(1, 1, 16 * MIB, NULL, name, 10, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "backup name does not fit in 10 bytes");
}
END_TEST

START_TEST(test_wal_file_name_of)
{
    char wal[25];
    char name[WALG_KEY_CAP];
    walg_wal_file_name_of("base_0000004300000388000000AC_D_000000430000038500000003", wal);
    ck_assert_str_eq(wal, "0000004300000388000000AC");
    walg_wal_file_name_of("my_backup", wal);
    ck_assert_str_eq(wal, "ZZZZZZZZZZZZZZZZZZZZZZZZ");
    walg_wal_file_name_of("base_00000001000000000000007F_00000040", wal);
    ck_assert_str_eq(wal, "00000001000000000000007F");

    ck_assert(walg_sentinel_key_to_name("basebackups_005/base_0000000100000003000000A2_backup_stop_sentinel.json",
                                        name, sizeof(name)));
    ck_assert_str_eq(name, "base_0000000100000003000000A2");
    ck_assert(walg_sentinel_key_to_name("x_backup_stop_sentinel.json", name, sizeof(name)));
    ck_assert_str_eq(name, "x");
    ck_assert(!walg_sentinel_key_to_name("basebackups_005/base_0000000100000003000000A2/metadata.json", name,
                                         sizeof(name)));
    ck_assert(!walg_sentinel_key_to_name("basebackups_005/_backup_stop_sentinel.json", name, sizeof(name)));
    ck_assert(!walg_sentinel_key_to_name("basebackups_005/base_1_backup_stop_sentinel.json.tmp", name,
                                         sizeof(name)));
}
END_TEST

/* ---- keys ---- */

START_TEST(test_keys)
{
    struct bk_error err = BK_ERROR_INIT;
    const char *b = "base_0000000100000003000000A2";
    char key[WALG_KEY_CAP];
    ck_assert_int_eq(walg_key_sentinel(key, sizeof(key), b, &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2_backup_stop_sentinel.json");
    ck_assert_int_eq(walg_key_metadata(key, sizeof(key), b, &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/metadata.json");
    ck_assert_int_eq(walg_key_files_metadata(key, sizeof(key), b, &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/files_metadata.json");
    ck_assert_int_eq(walg_key_file_hashes(key, sizeof(key), b, &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/backupd_file_hashes.json");
    ck_assert_int_eq(walg_key_tar_dir(key, sizeof(key), b, &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/");
    ck_assert_int_eq(walg_key_tar_part(key, sizeof(key), b, 1, "lz4", &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/part_001.tar.lz4");
    ck_assert_int_eq(walg_key_tar_part(key, sizeof(key), b, 1000, "zst", &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/part_1000.tar.zst");
    ck_assert_int_eq(walg_key_tar_part(key, sizeof(key), b, 42, "", &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/part_042.tar");
    ck_assert_int_eq(walg_key_pg_control(key, sizeof(key), b, "zst", &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/pg_control.tar.zst");
    ck_assert_int_eq(walg_key_backup_label(key, sizeof(key), b, "br", &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/backup_label.tar.br");
    ck_assert_int_eq(walg_key_pg_control(key, sizeof(key), b, NULL, &err), BK_OK);
    ck_assert_str_eq(key, "basebackups_005/base_0000000100000003000000A2/tar_partitions/pg_control.tar");
    ck_assert_int_eq(walg_key_wal(key, sizeof(key), "0000000100000003000000A2", "lz4", &err), BK_OK);
    ck_assert_str_eq(key, "wal_005/0000000100000003000000A2.lz4");
    ck_assert_int_eq(walg_key_wal(key, sizeof(key), "00000002.history", "zst", &err), BK_OK);
    ck_assert_str_eq(key, "wal_005/00000002.history.zst");
    ck_assert_int_eq(walg_key_wal(key, sizeof(key), "0000000100000003000000A2.00000028.backup", "", &err), BK_OK);
    ck_assert_str_eq(key, "wal_005/0000000100000003000000A2.00000028.backup");
}
END_TEST

START_TEST(test_keys_bad)
{
    struct bk_error err = BK_ERROR_INIT;
    char key[WALG_KEY_CAP];
    ck_assert_int_eq(walg_key_wal(key, sizeof(key), "../x", "lz4", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"../x\" is not a WAL file name");
    ck_assert_int_eq(walg_key_sentinel(key, sizeof(key), "a/b", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"a/b\" cannot be used as a backup name");
    ck_assert_int_eq(walg_key_metadata(key, sizeof(key), "..", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"..\" cannot be used as a backup name");
    ck_assert_int_eq(walg_key_metadata(key, sizeof(key), "", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"\" cannot be used as a backup name");
    ck_assert_int_eq(walg_key_tar_part(key, sizeof(key), "base_1", 1, "tar.lz4", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"tar.lz4\" is not a file extension");
    ck_assert_int_eq(walg_key_tar_part(key, sizeof(key), "base_1", 0, "lz4", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar part numbers start at 1");
    ck_assert_int_eq(walg_key_sentinel(key, 10, "base_0000000100000003000000A2", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "object key does not fit in 10 bytes");
}
END_TEST

START_TEST(test_object_codec)
{
    static const struct {
        const char *key;
        enum codec_id codec;
    } ok[] = {
        { "basebackups_005/B/tar_partitions/part_001.tar.lz4", CODEC_LZ4 },
        { "basebackups_005/B/tar_partitions/part_001.tar.zst", CODEC_ZSTD },
        { "basebackups_005/B/tar_partitions/part_001.tar.br", CODEC_BROTLI },
        { "basebackups_005/B/tar_partitions/pg_control.tar.lzma", CODEC_LZMA },
        { "wal_005/000000010000000000000024.lzo", CODEC_LZO },
        { "basebackups_005/B/tar_partitions/part_001.tar", CODEC_NONE },
        { "basebackups_005/B/tar_partitions/part_001.tar.", CODEC_NONE },
        { "wal_005/000000010000000000000001", CODEC_NONE },
        { "wal_005/00000002.history", CODEC_NONE },
        { "wal_005/000000010000000300000041.partial", CODEC_NONE },
        { "wal_005/00000002.history.lz4", CODEC_LZ4 },
        { "dir.with.dots/000000010000000000000001", CODEC_NONE },
    };
    struct bk_error err = BK_ERROR_INIT;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        enum codec_id c = CODEC_COUNT;
        ck_assert_msg(walg_object_codec(ok[i].key, &c, &err) == BK_OK, "%s", ok[i].key);
        ck_assert_int_eq(c, ok[i].codec);
    }
    enum codec_id c;
    ck_assert_int_eq(walg_object_codec("wal_005/000000010000000000000001.gz", &c, &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message,
                     "unsupported compression extension \"gz\" of \"wal_005/000000010000000000000001.gz\"");
    ck_assert_str_eq(err.object, "wal_005/000000010000000000000001.gz");
    ck_assert_int_eq(walg_object_codec("basebackups_005/B/tar_partitions/part_001.tar.xz", &c, &err),
                     BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message,
                     "unsupported compression extension \"xz\" of \"basebackups_005/B/tar_partitions/part_001.tar.xz\"");
}
END_TEST

static Suite *walg_names_suite(void)
{
    Suite *s = suite_create("walg_names");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_lsn_parse_ok);
    tcase_add_test(tc, test_lsn_parse_bad);
    tcase_add_test(tc, test_lsn_format);
    tcase_add_test(tc, test_seg_size_check);
    tcase_add_test(tc, test_segment_names_16mib);
    tcase_add_test(tc, test_segment_names_1mib_64mib);
    tcase_add_test(tc, test_wal_name_parse);
    tcase_add_test(tc, test_wal_name_next);
    tcase_add_test(tc, test_wal_name_check);
    tcase_add_test(tc, test_wal_name_check_bad);
    tcase_add_test(tc, test_backup_name_parse);
    tcase_add_test(tc, test_backup_name_parse_bad);
    tcase_add_test(tc, test_backup_name_format);
    tcase_add_test(tc, test_wal_file_name_of);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_keys_bad);
    tcase_add_test(tc, test_object_codec);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walg_names_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
