#!/usr/bin/env python3
import hashlib, json, sys
# Usage: geneve.py BYTES > eve.json
# A synthetic Suricata 4.1+ EVE log: per HTTP transaction a dns event, the
# http event, the fileinfo event (a download, sha256/sha1/md5) and the flow
# event; an alert every tenth transaction. 1000 servers, 50000 distinct
# files (so files repeat across servers and time).
target = int(sys.argv[1])
out = sys.stdout
written = 0
i = 0
while written < target:
    srv = "198.51.%d.%d" % (100 + (i % 1000) // 250, i % 250 + 1)
    cli = "10.%d.%d.%d" % (i % 7, (i // 7) % 250, i % 250 + 1)
    n = (i * 7919) % 50000
    h = lambda a: getattr(hashlib, a)(b"file %d" % n).hexdigest()
    ts = "2024-01-%02dT%02d:%02d:%02d.%06d+0000" % (1 + (i // 86400) % 28, (i // 3600) % 24, (i // 60) % 60, i % 60, i % 1000000)
    host = "h%d.example.test" % (i % 1000)
    http = {"hostname": host, "url": "/d/%d.bin" % n, "http_user_agent": "Wget/1.21", "http_content_type": "application/octet-stream", "http_method": "GET", "protocol": "HTTP/1.1", "status": 200, "length": 1000 + n}
    lines = [
        {"timestamp": ts, "flow_id": 2 * i + 1, "event_type": "dns", "src_ip": cli, "src_port": 53000, "dest_ip": "10.0.0.53", "dest_port": 53, "proto": "UDP", "dns": {"type": "query", "id": i % 65536, "rrname": host, "rrtype": "A", "tx_id": 0}},
        {"timestamp": ts, "flow_id": 2 * i, "event_type": "http", "src_ip": cli, "src_port": 40000 + i % 20000, "dest_ip": srv, "dest_port": 80, "proto": "TCP", "tx_id": 0, "http": http},
        {"timestamp": ts, "flow_id": 2 * i, "event_type": "fileinfo", "src_ip": srv, "src_port": 80, "dest_ip": cli, "dest_port": 40000 + i % 20000, "proto": "TCP", "http": http, "app_proto": "http", "fileinfo": {"filename": "/d/%d.bin" % n, "sid": [], "gaps": False, "state": "CLOSED", "md5": h("md5"), "sha1": h("sha1"), "sha256": h("sha256"), "stored": False, "size": 1000 + n, "tx_id": 0}},
        {"timestamp": ts, "flow_id": 2 * i, "event_type": "flow", "src_ip": cli, "src_port": 40000 + i % 20000, "dest_ip": srv, "dest_port": 80, "proto": "TCP", "app_proto": "http", "flow": {"pkts_toserver": 6, "pkts_toclient": 9, "bytes_toserver": 700, "bytes_toclient": 2000 + n, "start": ts, "end": ts, "age": 0, "state": "closed", "reason": "timeout", "alerted": i % 10 == 0}},
    ]
    if i % 10 == 0:
        lines.append({"timestamp": ts, "flow_id": 2 * i, "event_type": "alert", "src_ip": srv, "src_port": 80, "dest_ip": cli, "dest_port": 40000 + i % 20000, "proto": "TCP", "alert": {"action": "allowed", "gid": 1, "signature_id": 2000000 + i % 100, "rev": 1, "signature": "ET POLICY synthetic", "category": "Potentially Bad Traffic", "severity": 2}, "app_proto": "http"})
    for l in lines:
        s = json.dumps(l, separators=(",", ":")) + "\n"
        out.write(s)
        written += len(s)
    i += 1
