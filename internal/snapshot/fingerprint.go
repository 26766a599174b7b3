package snapshot

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// fingerprintVersion names the canonical encoding below; change it if the
// encoding ever changes, so old and new fingerprints never collide.
const fingerprintVersion = "churnops/snapshot/fingerprint/v1"

// Fingerprint returns the lowercase hex SHA-256 of a canonical encoding of
// the month: as_of and every column of every customer, in users.csv order.
// A model artifact records it as the fingerprint of its training data.
//
// It is order-dependent on purpose: a seeded trainer can build a different
// model from the same rows in another order, so two inputs that may train
// different models must not share a fingerprint. It does not depend on the
// CSV files' column order, line endings or float spelling ("16" vs "16.0"),
// nor on how the month was stored (CSV or Parquet): only on the values.
//
// Encoding: the version string, then as_of (YYYY-MM-DD), then the column
// names (user_id then each file's columns in Files order), then each
// customer's values in that column order; every item is a uvarint byte
// length followed by the bytes. Values are spelled as in the lab's CSVs,
// numbers by AppendFloat (shortest exact round trip) or base 10, so equal
// fingerprints mean equal values bit for bit.
func (m *Month) Fingerprint() string {
	h := sha256.New()
	// Items are appended to buf and hashed one customer at a time: one
	// Write per item would cost more than the hashing itself.
	var buf, val []byte
	item := func(b []byte) {
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	item([]byte(fingerprintVersion))
	item(m.AsOf.AppendFormat(val[:0], DateLayout))
	item([]byte(UserIDColumn))
	for f := range layout {
		for k := range layout[f].cols {
			item([]byte(layout[f].cols[k].name))
		}
	}
	h.Write(buf)
	for i := range m.Customers {
		c := &m.Customers[i]
		buf = buf[:0]
		item([]byte(c.UserID))
		for f := range layout {
			for k := range layout[f].cols {
				// Values are spelled in place after a one-byte length,
				// fixed up after; the rare value of 128 bytes or more
				// takes the general path.
				at := len(buf)
				buf = layout[f].cols[k].appendValue(append(buf, 0), c)
				if n := len(buf) - at - 1; n < 0x80 {
					buf[at] = byte(n)
				} else {
					val = append(val[:0], buf[at+1:]...)
					buf = buf[:at]
					item(val)
				}
			}
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}
