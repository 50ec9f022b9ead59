// Package report builds the restore audit report from archived sessions: rows grouped by the
// dimensions asked for, and their CSV forms (the grouped report and a per-session detail).
package report

import (
	"encoding/csv"
	"io"
	"strings"
)

// CSVWriter writes RFC 4180 CSV (CRLF line ends, quotes where needed) in UTF-8, and defuses
// spreadsheet formulas: a cell beginning with =, +, -, @, tab or carriage return is prefixed
// with a single quote, so Excel, LibreOffice and Sheets show it as text.
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter writes to w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &CSVWriter{w: cw}
}

// Write writes one record; cells are escaped with EscapeCell.
func (c *CSVWriter) Write(cells []string) error {
	out := make([]string, len(cells))
	for i, s := range cells {
		out[i] = EscapeCell(s)
	}
	return c.w.Write(out)
}

// Flush writes buffered data and reports any error so far.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// EscapeCell makes s safe as a CSV cell: invalid UTF-8 becomes U+FFFD, and a leading formula
// character gets a ' in front.
func EscapeCell(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
