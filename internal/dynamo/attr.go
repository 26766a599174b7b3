package dynamo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// toAttr converts a JSON-shaped value (nil, bool, string, a number,
// map[string]any, []any) to a DynamoDB attribute value. Numbers are written
// in plain decimal notation, the form every DynamoDB implementation
// accepts; NaN and ±Inf have no DynamoDB (or JSON) form and are refused.
func toAttr(v any) (types.AttributeValue, error) {
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case string:
		return &types.AttributeValueMemberS{Value: x}, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", x, err)
		}
		return numberAttr(f)
	case float64:
		return numberAttr(x)
	case float32:
		return numberAttr(float64(x))
	case int:
		return &types.AttributeValueMemberN{Value: strconv.Itoa(x)}, nil
	case int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(x, 10)}, nil
	case map[string]any:
		m := make(map[string]types.AttributeValue, len(x))
		for k, e := range x {
			av, err := toAttr(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case []any:
		l := make([]types.AttributeValue, len(x))
		for i, e := range x {
			av, err := toAttr(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	default:
		return nil, fmt.Errorf("unsupported value %#v of type %T", v, v)
	}
}

func numberAttr(f float64) (types.AttributeValue, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %v has no DynamoDB representation", f)
	}
	// 'f' with precision -1 is the shortest decimal that parses back to the
	// same float64, so numbers round-trip exactly.
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}, nil
}

// fromAttr converts an attribute value back to a JSON-shaped value; number
// decides what an N becomes (a float64 for features, a json.Number when
// the result is re-encoded into a struct).
func fromAttr(av types.AttributeValue, number func(string) (any, error)) (any, error) {
	switch x := av.(type) {
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberBOOL:
		return x.Value, nil
	case *types.AttributeValueMemberS:
		return x.Value, nil
	case *types.AttributeValueMemberN:
		return number(x.Value)
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(x.Value))
		for k, e := range x.Value {
			v, err := fromAttr(e, number)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = v
		}
		return m, nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(x.Value))
		for i, e := range x.Value {
			v, err := fromAttr(e, number)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = v
		}
		return l, nil
	default:
		return nil, fmt.Errorf("unsupported attribute type %T", av)
	}
}

func jsonNumber(s string) (any, error) { return json.Number(s), nil }

func float64Number(s string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %q: %w", s, err)
	}
	return f, nil
}

// structToAttrs encodes v through its JSON form into top-level attributes,
// so a field added to a registry type is stored without touching this
// package.
func structToAttrs(v any) (map[string]types.AttributeValue, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	item := make(map[string]types.AttributeValue, len(fields))
	for k, f := range fields {
		av, err := toAttr(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		item[k] = av
	}
	return item, nil
}

// structToAttr is structToAttrs as one map attribute.
func structToAttr(v any) (types.AttributeValue, error) {
	m, err := structToAttrs(v)
	if err != nil {
		return nil, err
	}
	return &types.AttributeValueMemberM{Value: m}, nil
}

// attrsToStruct decodes attributes written by structToAttrs into out,
// skipping the names in skip (the key attributes).
func attrsToStruct(item map[string]types.AttributeValue, out any, skip ...string) error {
	fields := make(map[string]any, len(item))
	for k, av := range item {
		if slices.Contains(skip, k) {
			continue
		}
		v, err := fromAttr(av, jsonNumber)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		fields[k] = v
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}
