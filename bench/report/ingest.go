package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Ingest is what bench/ingest.sh measured in the run: filetrail ingest and
// the sqlite3 CLI loading the same rows, in rows per second.
type Ingest struct {
	// Ran is whether the run directory holds the script's output at all.
	Ran bool
	// Filetrail and SQLite are the rates; 0 when not found.
	Filetrail, SQLite float64
	// Unit names what is counted per second (from the table's header).
	Unit string
	// Runs is how many runs the table held (the figures are the median one's).
	Runs int
	// Source is the file the figures were read from.
	Source string
	// Problem says why no figure could be read, when the script ran.
	Problem string
}

// Ratio is filetrail's rate over the sqlite3 CLI's, 0 when either is
// missing.
func (in Ingest) Ratio() float64 {
	if in.Filetrail <= 0 || in.SQLite <= 0 {
		return 0
	}
	return in.Filetrail / in.SQLite
}

// LoadIngest reads what bench/ingest.sh left in dir: the first Markdown
// table (in *.md files, by name order) ParseIngestTable can read. A missing
// dir means the script did not run: no error, no figure. A dir without such
// a table gives an Ingest with a Problem, never an error: the API report
// does not depend on it.
func LoadIngest(dir string) (Ingest, error) {
	var in Ingest
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return in, nil
	}
	if err != nil {
		return in, err
	}
	in.Ran = true
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return in, err
		}
		if t, ok := ParseIngestTable(string(raw)); ok {
			in.Filetrail, in.SQLite, in.Unit, in.Runs, in.Source = t.Filetrail, t.SQLite, t.Unit, t.Runs, e.Name()
			return in, nil
		}
	}
	in.Problem = fmt.Sprintf("no table of filetrail ingest and sqlite3 CLI rates was found in its Markdown output (%s/*.md)", filepath.Base(dir))
	return in, nil
}

// IngestTable is the figures read from a Markdown table.
type IngestTable struct {
	Filetrail, SQLite float64 // rates
	Unit              string  // the rate column's header
	Runs              int     // rows (runs) the table had; the figures are its median run's
}

// ParseIngestTable finds, in Markdown text, the first table giving both
// filetrail ingest's rate and the sqlite3 CLI's. Rates are columns whose
// header holds "/s". Two layouts are read:
//
//   - one row per run, a rate column for each loader: the loader is named
//     by the nearest header cell on the rate column's left that is not a
//     rate ("`ingest` wall" | "Sightings/s" | … | "`sqlite3` CLI load" |
//     "Sightings/s (equivalent)"); with several runs, the figures are those
//     of the run with the median ratio (the lower middle one for an even
//     number of runs);
//   - one row per loader, its first cell naming filetrail or sqlite3, the
//     rates in the first rate column.
//
// Numbers may have thousands separators, a unit after them and Markdown
// emphasis.
func ParseIngestTable(md string) (IngestTable, bool) {
	var tables [][][]string // tables, rows, cells; the header first
	in := false
	for line := range strings.Lines(md) {
		cells, isRow := tableRow(line)
		switch {
		case !isRow:
			in = false
		case !in:
			in = true
			tables = append(tables, [][]string{cells})
		case !isSeparator(cells):
			tables[len(tables)-1] = append(tables[len(tables)-1], cells)
		}
	}
	for _, t := range tables {
		if r, ok := ingestColumns(t); ok {
			return r, true
		}
		if r, ok := ingestRows(t); ok {
			return r, true
		}
	}
	return IngestTable{}, false
}

// ingestColumns reads a table with one row per run and a rate column per
// loader.
func ingestColumns(t [][]string) (IngestTable, bool) {
	header := t[0]
	ftCol, sqCol := -1, -1
	for i, h := range header {
		if !strings.Contains(h, "/s") {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			if strings.Contains(header[j], "/s") {
				continue
			}
			name := strings.ToLower(header[j])
			switch {
			case (strings.Contains(name, "sqlite3") || strings.Contains(name, "cli")) && sqCol < 0:
				sqCol = i
			case strings.Contains(name, "ingest") && ftCol < 0:
				ftCol = i
			}
			break
		}
	}
	if ftCol < 0 || sqCol < 0 {
		return IngestTable{}, false
	}
	var runs []IngestTable
	for _, row := range t[1:] {
		if max(ftCol, sqCol) >= len(row) {
			continue
		}
		ft, err1 := parseNumber(row[ftCol])
		sq, err2 := parseNumber(row[sqCol])
		if err1 == nil && err2 == nil && ft > 0 && sq > 0 {
			runs = append(runs, IngestTable{Filetrail: ft, SQLite: sq, Unit: strings.Trim(header[ftCol], "*` ")})
		}
	}
	if len(runs) == 0 {
		return IngestTable{}, false
	}
	slices.SortStableFunc(runs, func(a, b IngestTable) int { return cmp.Compare(a.Filetrail/a.SQLite, b.Filetrail/b.SQLite) })
	r := runs[(len(runs)-1)/2]
	r.Runs = len(runs)
	return r, true
}

// ingestRows reads a table with one row per loader.
func ingestRows(t [][]string) (IngestTable, bool) {
	col := slices.IndexFunc(t[0], func(h string) bool { return strings.Contains(h, "/s") })
	if col < 0 {
		return IngestTable{}, false
	}
	r := IngestTable{Unit: strings.Trim(t[0][col], "*` "), Runs: 1}
	for _, row := range t[1:] {
		if col >= len(row) {
			continue
		}
		v, err := parseNumber(row[col])
		if err != nil || v <= 0 {
			continue
		}
		name := strings.ToLower(row[0])
		switch {
		case strings.Contains(name, "sqlite3") && r.SQLite == 0:
			r.SQLite = v
		case strings.Contains(name, "filetrail") && r.Filetrail == 0:
			r.Filetrail = v
		}
	}
	return r, r.Filetrail > 0 && r.SQLite > 0
}

// tableRow splits a Markdown table line "| a | b |" into trimmed cells.
func tableRow(line string) ([]string, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil, false
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells, true
}

func isSeparator(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, ":- ") != "" {
			return false
		}
	}
	return true
}

// parseNumber reads "12,345", "12\u202f345", "**1,234**" or "1,234 rows/s".
func parseNumber(s string) (float64, error) {
	s = strings.Trim(s, "*_` ")
	s = strings.NewReplacer(",", "", "\u202f", "", "\u2009", "", "\u00a0", "").Replace(s)
	if f := strings.Fields(s); len(f) > 0 {
		s = f[0]
	}
	return strconv.ParseFloat(s, 64)
}
