package snapshot

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"unsafe"
)

// csvReader reads records exactly as encoding/csv's Reader configured as
// ReadCSV needs it (comma, no comment character, any number of fields,
// strict quotes) — the same records, the same line numbers, the same
// errors — about three times faster on the lab's files.
//
// A line without a double quote (every line of the lab's files) has only
// one reading: its fields are the text between commas. Such a line is
// split where it lies in the read buffer, and its fields are strings over
// that buffer, valid until the next Read. Any other line — quoted fields,
// fields spanning lines, a line longer than the buffer, a last line
// without a newline — is read by an encoding/csv Reader over the same
// buffer, which consumes exactly that record; its line numbers are shifted
// by the lines read here.
type csvReader struct {
	br       *bufio.Reader
	cr       *csv.Reader
	rec      []string
	own      int // lines consumed by the fast path
	csvLines int // lines consumed by cr, in its own numbering
	line     int // line of the current record's first field
	// err is a read error met while filling the buffer, returned once the
	// lines before it are read (bufio reports an error only once).
	err error
}

const csvBufferSize = 1 << 20

func newCSVReader(r io.Reader) *csvReader { return newCSVReaderSize(r, csvBufferSize) }

// newCSVReaderSize reads through a buffer of size bytes, at least 4096 (or
// encoding/csv would add a buffer of its own).
func newCSVReaderSize(r io.Reader, size int) *csvReader {
	br := bufio.NewReaderSize(r, max(size, 4096))
	// csv.NewReader keeps br itself (it is a large enough bufio.Reader),
	// so both read from one buffer.
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	return &csvReader{br: br, cr: cr}
}

// Line returns the line of the first field of the record last read, as
// encoding/csv's FieldPos(0) does.
func (r *csvReader) Line() int { return r.line }

// Read returns the next record. Its slice and strings are reused by the
// next Read.
func (r *csvReader) Read() ([]string, error) {
	for {
		line, ok := r.peekLine()
		if !ok {
			if r.err != nil {
				return nil, r.err
			}
			return r.readCSV()
		}
		r.own++
		n := len(line)
		body := line[:n-1]
		if n >= 2 && line[n-2] == '\r' {
			body = line[:n-2]
		}
		if len(body) == 0 { // an empty line: skipped, as encoding/csv does
			r.br.Discard(n)
			continue
		}
		r.line = r.own + r.csvLines
		s := unsafe.String(unsafe.SliceData(body), len(body))
		r.rec = r.rec[:0]
		for {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				r.rec = append(r.rec, s)
				break
			}
			r.rec = append(r.rec, s[:i])
			s = s[i+1:]
		}
		// The strings point into the buffer; Discard only moves the read
		// position, the bytes stay until the next read fills the buffer.
		r.br.Discard(n)
		return r.rec, nil
	}
}

// peekLine returns the next line, newline included, when it is in the
// buffer and holds no double quote.
func (r *csvReader) peekLine() ([]byte, bool) {
	buf, _ := r.br.Peek(r.br.Buffered())
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		// Fill the buffer (up to its size, or to the end of the input).
		var err error
		buf, err = r.br.Peek(r.br.Size())
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			r.err = err
		}
		if i = bytes.IndexByte(buf, '\n'); i < 0 {
			return nil, false
		}
	}
	line := buf[:i+1]
	if bytes.IndexByte(line, '"') >= 0 {
		return nil, false
	}
	return line, true
}

// readCSV reads one record with encoding/csv and brings its line numbers
// into the file's.
func (r *csvReader) readCSV() ([]string, error) {
	rec, err := r.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			shifted := *pe
			shifted.StartLine += r.own
			shifted.Line += r.own
			return nil, &shifted
		}
		return nil, err
	}
	first, _ := r.cr.FieldPos(0)
	last, _ := r.cr.FieldPos(len(rec) - 1)
	// The record ends on its last field's line, plus the line breaks
	// inside that field (a quoted field may span lines).
	r.csvLines = last + strings.Count(rec[len(rec)-1], "\n")
	r.line = first + r.own
	return rec, nil
}
