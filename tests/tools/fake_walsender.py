#!/usr/bin/env python3
"""Scripted fake PostgreSQL walsender for tests/unit/pg_basebackup_stream_test.c.

Speaks just enough of protocol 3.0 (trust auth, simple query, COPY OUT) to play one BASE_BACKUP
scenario per connection; the scenario is the connection's application_name. Prints its port on
the first stdout line, serves connections one at a time, exits when its parent process goes
away. Scenarios (server_version in brackets):
  legacy_ok [14.9]        13/14 protocol: one COPY per tablespace, then one for the manifest
  legacy_mid_error [14.9] ErrorResponse 58030 in the middle of base.tar
  legacy_checksum [14.9]  complete backup, then ErrorResponse XX001 (page checksum failures)
  v15_ok [15.4]           single COPY with 'n'/'d'/'p'/'m' messages
  v15_unknown_msg [15.4]  a CopyData message of unknown type 'z' inside base.tar
  v15_drop [15.4]         connection closed in the middle of base.tar
  v15_bad_location [15.4] 'n' for a tablespace location that was not in the list
  old [12.5]              server too old
  bad_sysid [15.4]        IDENTIFY_SYSTEM returns a non-numeric system identifier
  syntax [15.4]           BASE_BACKUP answered with ErrorResponse 42601
A BASE_BACKUP in the wrong dialect for the version is answered with 42601 too.
"""
import hashlib
import io
import json
import os
import socket
import struct
import sys
import tarfile

SYSID = "7300000000000000042"
VERSIONS = {"legacy_ok": "14.9", "legacy_mid_error": "14.9", "legacy_checksum": "14.9",
            "old": "12.5"}
TS_OID, TS_LOCATION = 16385, "/srv/ts1"


def msg(kind, payload=b""):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def cstr(text):
    return text.encode() + b"\0"


def row_description(names_types):
    body = struct.pack("!H", len(names_types))
    for name, typoid in names_types:
        body += cstr(name) + struct.pack("!IHIhih", 0, 0, typoid, -1, 0, 0)
    return msg(b"T", body)


def data_row(values):
    body = struct.pack("!H", len(values))
    for v in values:
        if v is None:
            body += struct.pack("!i", -1)
        else:
            b = str(v).encode()
            body += struct.pack("!i", len(b)) + b
    return msg(b"D", body)


def error(sqlstate, text):
    body = b"SERROR\0VERROR\0C" + cstr(sqlstate) + b"M" + cstr(text) + b"\0"
    return msg(b"E", body)


def ready():
    return msg(b"Z", b"I")


def make_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o700
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


BASE_FILES = [("PG_VERSION", b"14\n"), ("global", None),
              ("global/pg_control", bytes(range(256)) * 32),
              ("backup_label", b"START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"),
              ("pg_wal", None), ("base/1/1259", b"\x01" * 9000)]
TS_FILES = [("PG_14_202107181", None), ("PG_14_202107181/16386/16387", b"\x07" * 20000)]


def make_manifest():
    files = []
    for prefix, members in (("pg_tblspc/%d/" % TS_OID, TS_FILES), ("", BASE_FILES)):
        for name, data in members:
            if data is not None:
                files.append('{ "Path": %s, "Size": %d, "Last-Modified": "2024-01-01 00:00:00 GMT", '
                             '"Checksum-Algorithm": "SHA256", "Checksum": "%s" }'
                             % (json.dumps(prefix + name), len(data), hashlib.sha256(data).hexdigest()))
    text = ('{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n' + ",\n".join(files) +
            '\n],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }\n],\n')
    return (text + '"Manifest-Checksum": "%s"}\n' % hashlib.sha256(text.encode()).hexdigest()).encode()


def chunks(data, size=1000):
    return [data[i:i + size] for i in range(0, len(data), size)]


def position(lsn, tli):
    return row_description([("recptr", 25), ("tli", 20)]) + data_row([lsn, tli]) + msg(b"C", cstr("SELECT"))


def tablespace_list():
    return (row_description([("spcoid", 26), ("spclocation", 25), ("size", 20)]) +
            data_row([TS_OID, TS_LOCATION, 20]) + data_row([None, None, 30]) + msg(b"C", cstr("SELECT")))


def base_backup(sock, scenario, version):
    base, ts, manifest = make_tar(BASE_FILES), make_tar(TS_FILES), make_manifest()
    out = position("0/2000028", 1) + tablespace_list()
    if version.startswith("14"):
        out += msg(b"H", b"\0\0\0") + b"".join(msg(b"d", c) for c in chunks(ts)) + msg(b"c")
        out += msg(b"H", b"\0\0\0")
        base_chunks = chunks(base)
        if scenario == "legacy_mid_error":
            out += b"".join(msg(b"d", c) for c in base_chunks[:3])
            sock.sendall(out + error("58030", 'could not read file "base/1/1259": Input/output error') + ready())
            return
        out += b"".join(msg(b"d", c) for c in base_chunks) + msg(b"c")
        out += msg(b"H", b"\0\0\0") + b"".join(msg(b"d", c) for c in chunks(manifest, 300)) + msg(b"c")
        out += position("0/2000100", 1)
        if scenario == "legacy_checksum":
            sock.sendall(out + error("XX001", "checksum verification failure during base backup") + ready())
            return
        sock.sendall(out + msg(b"C", cstr("BASE_BACKUP")) + ready())
        return
    out += msg(b"H", b"\0\0\0")
    out += msg(b"d", b"n" + cstr("%d.tar" % TS_OID) + cstr(TS_LOCATION))
    out += b"".join(msg(b"d", b"d" + c) for c in chunks(ts)) + msg(b"d", b"p" + struct.pack("!q", len(ts)))
    if scenario == "v15_bad_location":
        sock.sendall(out + msg(b"d", b"n" + cstr("base.tar") + cstr("/nope")))
        return
    out += msg(b"d", b"n" + cstr("base.tar") + cstr(""))
    base_chunks = chunks(base)
    if scenario == "v15_unknown_msg":
        sock.sendall(out + msg(b"d", b"d" + base_chunks[0]) + msg(b"d", b"z"))
        return
    if scenario == "v15_drop":
        sock.sendall(out + msg(b"d", b"d" + base_chunks[0]))
        sock.shutdown(socket.SHUT_RDWR)
        return
    out += b"".join(msg(b"d", b"d" + c) for c in base_chunks)
    out += msg(b"d", b"p" + struct.pack("!q", len(ts) + len(base)))
    out += msg(b"d", b"m") + b"".join(msg(b"d", b"d" + c) for c in chunks(manifest, 300))
    out += msg(b"c") + position("0/2000100", 1) + msg(b"C", cstr("BASE_BACKUP")) + ready()
    sock.sendall(out)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise EOFError
        data += part
    return data


def serve(sock):
    while True:
        length, code = struct.unpack("!II", read_exact(sock, 8))
        if code in (80877103, 80877104):      # SSLRequest, GSSENCRequest: not supported
            sock.sendall(b"N")
            continue
        body = read_exact(sock, length - 8)
        break
    parts = body.split(b"\0")
    params = dict(zip([p.decode() for p in parts[0::2]], [p.decode() for p in parts[1::2]]))
    scenario = params.get("application_name", "")
    version = VERSIONS.get(scenario, "15.4")
    out = msg(b"R", struct.pack("!I", 0))
    for k, v in (("server_version", version), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
                 ("standard_conforming_strings", "on"), ("integer_datetimes", "on")):
        out += msg(b"S", cstr(k) + cstr(v))
    sock.sendall(out + msg(b"K", struct.pack("!II", os.getpid(), 1)) + ready())
    while True:
        kind = read_exact(sock, 1)
        length = struct.unpack("!I", read_exact(sock, 4))[0]
        body = read_exact(sock, length - 4)
        if kind == b"X":
            return
        if kind != b"Q":
            continue
        query = body.rstrip(b"\0").decode()
        if query == "IDENTIFY_SYSTEM":
            sysid = "abc" if scenario == "bad_sysid" else SYSID
            sock.sendall(row_description([("systemid", 25), ("timeline", 23), ("xlogpos", 25), ("dbname", 25)])
                         + data_row([sysid, 1, "0/2000000", None]) + msg(b"C", cstr("IDENTIFY_SYSTEM")) + ready())
        elif query == "SHOW wal_segment_size":
            sock.sendall(row_description([("wal_segment_size", 25)]) + data_row(["16MB"])
                         + msg(b"C", cstr("SHOW")) + ready())
        elif query.startswith("BASE_BACKUP"):
            legacy = not query.startswith("BASE_BACKUP (")
            if scenario == "syntax" or legacy != version.startswith("14"):
                sock.sendall(error("42601", "syntax error") + ready())
            else:
                base_backup(sock, scenario, version)
        else:
            sock.sendall(error("42601", "syntax error") + ready())


def main():
    parent = os.getppid()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.5)
    print(listener.getsockname()[1], flush=True)
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        conn.settimeout(10)
        try:
            serve(conn)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
