// Package report builds the restore audit report from archived sessions: rows grouped by the
// dimensions asked for, and their CSV forms (the grouped report and a per-session detail).
package report

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CSVWriter writes RFC 4180 CSV (CRLF line ends, quotes where needed) in UTF-8, every cell
// made safe by EscapeCell.
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

// formulaStart are the characters a spreadsheet reads as the start of a formula (OWASP CSV
// injection: = + - @, and tab and carriage return, which EscapeCell has already turned into
// spaces).
const formulaStart = "=+-@\t\r"

// cellSeparators are the characters a spreadsheet may split a cell at when it guesses the
// separator (a locale's ';', a '|' or ',' in a cell read without its quotes): what follows
// one must not start a formula either.
const cellSeparators = ",;|"

// EscapeCell makes s safe as a CSV cell shown in a spreadsheet or a terminal:
//   - invalid UTF-8 becomes U+FFFD;
//   - ANSI escape sequences (ESC [ ... final byte) are removed, and so is every other control
//     character (C0, DEL, C1) and invisible format character, among them the bidirectional
//     controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) that make text read
//     other than it is stored; tabs and line breaks (CR, LF, U+2028, U+2029) become a space;
//   - a formula character (= + - @) that starts the cell, or follows a separator (, ; |), each
//     perhaps after spaces, gets a single quote in front, so Excel, LibreOffice and Sheets
//     show it as text.
func EscapeCell(s string) string {
	if safeCell(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	segmentStart := true // at the cell's start or after a separator, spaces aside
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			r = unicode.ReplacementChar
		}
		if r == 0x1b { // ESC: drop a CSI sequence whole, else ESC alone
			i += size + csiLen(s[i+size:])
			continue
		}
		i += size
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			r = ' '
		case dropRune(r):
			continue
		}
		switch {
		case strings.ContainsRune(cellSeparators, r):
			segmentStart = true
		case unicode.IsSpace(r):
		case segmentStart && strings.ContainsRune(formulaStart, r):
			b.WriteByte('\'')
			segmentStart = false
		default:
			segmentStart = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// safeCell reports whether EscapeCell would return s unchanged: printable ASCII with no
// formula character at all (most cells: ids, numbers, times, names).
func safeCell(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte("=+-@", c) >= 0 {
			return false
		}
	}
	return true
}

// dropRune reports whether r is removed from a cell: control characters and invisible
// format characters (the bidirectional controls among them), except the joiners that some
// scripts and emoji need.
func dropRune(r rune) bool {
	if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
		return true
	}
	return unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d'
}

// csiLen is the length of the rest of an ANSI control sequence after its ESC: "[" parameters
// and intermediates (0x20..0x3F) up to a final byte (0x40..0x7E); 0 when s does not start one.
// An unterminated sequence runs to the end of the cell.
func csiLen(s string) int {
	if s == "" || s[0] != '[' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x20 && c <= 0x3f:
		case c >= 0x40 && c <= 0x7e:
			return i + 1
		default:
			return i // not a sequence byte: the sequence ends here
		}
	}
	return len(s)
}
