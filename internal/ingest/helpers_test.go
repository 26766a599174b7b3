package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/snapshot"
)

var asOf0 = time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)

// newStore returns an in-memory blob store (it passes the blob.Store
// contract; the embedded store's fsync per object would make these tests
// slow).
func newStore(tb testing.TB) blob.Store { return blobtest.NewMemory() }

// newLocalStore returns the embedded blob store in a new directory.
func newLocalStore(tb testing.TB) blob.Store {
	tb.Helper()
	st, err := localstore.Open(tb.TempDir(), localstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st.Blobs
}

// writeTree writes files (relative name -> content) under a new directory;
// names ending in .gz are gzipped.
func writeTree(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		data := []byte(text)
		if strings.HasSuffix(name, ".gz") {
			data = gz(tb, data)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func gz(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// splitParts turns single-file tables into n part files each
// (TABLE/part-0000j.csv[.gz]), cutting the data lines into n runs of
// consecutive lines; every part repeats the header. It returns the files
// and where each original line went.
func splitParts(files map[string]string, n int, gzipped bool) (map[string]string, map[string]map[int]loc) {
	out := map[string]string{}
	where := map[string]map[int]loc{}
	for name, text := range files {
		base := strings.TrimSuffix(name, ".csv")
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		header, data := lines[0], lines[1:]
		if text == "" {
			header, data = "", nil
		}
		where[name] = map[int]loc{}
		for j := range n {
			lo, hi := j*len(data)/n, (j+1)*len(data)/n
			part := fmt.Sprintf("%s/part-%05d.csv", base, j)
			if gzipped {
				part += ".gz"
			}
			body := header + "\n"
			if text == "" {
				body = ""
			}
			for i, l := range data[lo:hi] {
				body += l + "\n"
				where[name][lo+i+2] = loc{part, i + 2}
			}
			out[part] = body
		}
		where[name][1] = loc{fmt.Sprintf("%s/part-%05d.csv", base, 0), 1}
		if gzipped {
			where[name][1] = loc{where[name][1].file + ".gz", 1}
		}
	}
	return out, where
}

type loc struct {
	file string
	line int
}

// run ingests src into store with k shards (0: chosen from the rows).
func run(tb testing.TB, src ingest.Source, store blob.Store, k int) (*ingest.Result, error) {
	tb.Helper()
	return ingest.Run(context.Background(), src, store, asOf0, ingest.Options{PlanOptions: ingest.PlanOptions{Shards: k}})
}

// storedMonth reads every shard of a stored month.
func storedMonth(tb testing.TB, store blob.Store, asOf string) (*dataset.Manifest, [][]snapshot.Customer) {
	tb.Helper()
	m, err := dataset.Open(context.Background(), store, asOf)
	if err != nil {
		tb.Fatal(err)
	}
	shards := make([][]snapshot.Customer, m.K)
	err = dataset.Each(context.Background(), store, m, func(k int, s *snapshot.Month) error {
		shards[k] = s.Customers
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m, shards
}

// sameCustomer compares two customers field by field.
func sameCustomer(a, b snapshot.Customer) bool {
	if !a.SignupDate.Equal(b.SignupDate) {
		return false
	}
	a.SignupDate, b.SignupDate = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func validationErrors(tb testing.TB, err error) *snapshot.ValidationErrors {
	tb.Helper()
	var verrs *snapshot.ValidationErrors
	if !errors.As(err, &verrs) {
		tb.Fatalf("error %v (%T) is not a *ValidationErrors", err, err)
	}
	return verrs
}
