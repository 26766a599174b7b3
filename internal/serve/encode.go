package serve

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The /predict responses are written by hand: encoding/json's reflection
// was most of a prediction's cost, and the shapes are fixed.

// featuresKey introduces features_used after a prediction's head.
const featuresKey = `,"features_used":`

// appendPredictionHead appends a prediction object's default fields, the
// ones every answer carries, without the closing brace: the caller appends
// what the request included (each part is per-customer data), then '}'.
func appendPredictionHead(b []byte, m *loaded, userID string, hasUser bool, asOf string, hasAsOf bool, p float64) []byte {
	b = append(b, `{"user_id":`...)
	if hasUser {
		b = appendString(b, userID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"churn_probability":`...)
	b = appendFloat(b, p)
	b = append(b, `,"prediction":`...)
	if p >= m.model.Threshold() {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, `,"model_name":`...)
	b = appendString(b, m.version.Model)
	b = append(b, `,"model_version":`...)
	b = strconv.AppendInt(b, int64(m.version.Version), 10)
	b = append(b, `,"as_of":`...)
	if hasAsOf && asOf != "" {
		b = appendString(b, asOf)
	} else {
		b = append(b, "null"...)
	}
	return b
}

// appendFeatures appends the features_used object: the model's features in
// model order with their raw values.
func appendFeatures(b []byte, m *loaded, raw map[string]any) []byte {
	b = append(b, '{')
	for i, name := range m.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
		b = appendValue(b, raw[name])
	}
	return append(b, '}')
}

// reasonsScratch is what appendReasons needs per call: the contributions
// and which features are already listed.
type reasonsScratch struct {
	c     []float64
	taken []bool
}

var reasonsPool = sync.Pool{New: func() any { return new(reasonsScratch) }}

// appendReasons appends the reasons object for encoded row x with raw
// values raw:
//
//	,"reasons":{"bias":B,"log_odds":L,"top":[{"feature":…,"value":…,"contribution":C,"direction":"raises"|"lowers"},…]}
//
// top lists up to k features by decreasing |contribution| (ties in model
// order), leaving out features that contribute exactly 0 (the model never
// splits on them for this customer); bias + all contributions = log_odds.
func (m *loaded) appendReasons(b []byte, x []float64, raw map[string]any, k int) ([]byte, error) {
	n := len(m.names)
	sc := reasonsPool.Get().(*reasonsScratch)
	defer reasonsPool.Put(sc)
	if cap(sc.c) < n+1 {
		sc.c, sc.taken = make([]float64, n+1), make([]bool, n)
	}
	c, taken := sc.c[:n+1], sc.taken[:n]
	clear(taken)
	if err := m.explainer.Explain(x, c); err != nil {
		return b, fmt.Errorf("explain with model %s v%d: %w", m.version.Model, m.version.Version, err)
	}
	logOdds := 0.0
	for _, v := range c {
		logOdds += v
	}
	b = append(b, `,"reasons":{"bias":`...)
	b = appendFloat(b, c[n])
	b = append(b, `,"log_odds":`...)
	b = appendFloat(b, logOdds)
	b = append(b, `,"top":[`...)
	for r := range k {
		best := -1
		for j, v := range c[:n] {
			if !taken[j] && v != 0 && (best < 0 || math.Abs(v) > math.Abs(c[best])) {
				best = j
			}
		}
		if best < 0 {
			break
		}
		taken[best] = true
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"feature":`...)
		b = appendString(b, m.names[best])
		b = append(b, `,"value":`...)
		b = appendValue(b, raw[m.names[best]])
		b = append(b, `,"contribution":`...)
		b = appendFloat(b, c[best])
		if c[best] > 0 {
			b = append(b, `,"direction":"raises"}`...)
		} else {
			b = append(b, `,"direction":"lowers"}`...)
		}
	}
	return append(b, "]}"...), nil
}

// appendError appends {"error":{…}}.
func appendError(b []byte, code, msg, feature string) []byte {
	b = append(b, `{"error":`...)
	b = appendErrorObject(b, code, msg, feature)
	return append(b, '}')
}

// appendErrorObject appends {"code":…,"message":…[,"feature":…]}.
func appendErrorObject(b []byte, code, msg, feature string) []byte {
	b = append(b, `{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	if feature != "" {
		b = append(b, `,"feature":`...)
		b = appendString(b, feature)
	}
	return append(b, '}')
}

// appendValue appends a raw feature value; anything that is not a finite
// number, a bool or a string is written as null.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case float64:
		return appendFloat(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float32:
		return appendFloat(b, float64(v))
	}
	return append(b, "null"...)
}

// appendFloat appends f as the shortest JSON number that round-trips, or
// null when f is not finite (JSON has no NaN).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028/U+2029
// escaped (as encoding/json does, for JavaScript).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
