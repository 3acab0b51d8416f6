package sqlite

import "testing"

func TestZZPlan(t *testing.T) {
	s := openTemp(t)
	for _, q := range []string{
		"EXPLAIN QUERY PLAN SELECT e.file_id, e.first_seen, e.last_seen, e.context, f.attributes, (SELECT file_count FROM ips WHERE ip = ?1) FROM edges e LEFT JOIN files f ON f.id = e.file_id WHERE e.ip = ?1 AND (e.first_seen, e.file_id) < (?2, ?3) ORDER BY e.first_seen DESC, e.file_id DESC LIMIT 41",
		"EXPLAIN QUERY PLAN SELECT ip, first_seen, last_seen, context FROM edges WHERE file_id = ? AND (first_seen, ip) < (?, ?) ORDER BY first_seen DESC, ip DESC LIMIT 41",
		"EXPLAIN QUERY PLAN WITH k(ip, f) AS (VALUES (?,?),(?,?)) SELECT e.ip, e.file_id, e.url FROM k CROSS JOIN evidence e ON e.ip = k.ip AND e.file_id = k.f",
	} {
		rows, err := s.r.Query(q, "1.2.3.4", 5, "ab", "x")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			t.Log(detail)
		}
		rows.Close()
	}
}
