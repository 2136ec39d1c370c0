package policy

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxRecordedClusters caps the clusters listed in a decision record; the count of the
// rest is recorded, so the annotation stays small with thousands of peers.
const maxRecordedClusters = 5

// Record is the compact decision stored in a pod's kubexr.io/decision annotation.
type Record struct {
	Class     string          `json:"class,omitempty"`
	Bound     string          `json:"bound"`
	Source    string          `json:"source"`
	Placement string          `json:"placement"`
	Local     bool            `json:"local"`
	Eligible  []RecordCluster `json:"eligible,omitempty"`
	More      int             `json:"more,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Note      string          `json:"note,omitempty"`
	// Move is the move policy when a hint source stated one (auto or never); empty for
	// the default, never.
	Move string `json:"move,omitempty"`
}

// RecordCluster is one eligible cluster in a Record.
type RecordCluster struct {
	ID  string `json:"id"`
	RTT string `json:"rtt"`
}

// Record summarises the decision for display.
func (d Decision) Record() Record {
	r := Record{
		Class:     d.Hint.Class,
		Bound:     "none",
		Source:    d.Hint.BoundSource.String(),
		Placement: string(d.Hint.Placement),
		Local:     d.Local,
		Reason:    d.Reason,
		Note:      d.Hint.Note(),
	}
	if d.Hint.MoveSource.Kind != "" {
		r.Move = string(d.Hint.Move)
	}
	if d.Bound > 0 {
		r.Bound = FormatRTT(d.Bound)
	}
	n := min(len(d.Remote), maxRecordedClusters)
	if n > 0 {
		r.Eligible = make([]RecordCluster, n)
		for i, c := range d.Remote[:n] {
			r.Eligible[i] = RecordCluster{ID: c.ID, RTT: candidateRTT(c)}
		}
		r.More = len(d.Remote) - n
	}
	return r
}

func candidateRTT(c Candidate) string {
	if !c.HasRTT {
		return "unknown"
	}
	return FormatRTT(c.RTT)
}

// RecordJSON is json.Marshal(d.Record()) written in one allocation: it runs on every
// admission. TestRecordJSONMatchesEncodingJSON keeps the two identical.
func (d Decision) RecordJSON() string {
	var b strings.Builder
	b.Grow(160 + 48*min(len(d.Remote), maxRecordedClusters) + len(d.Reason) + 2*len(d.Hint.Class))
	var scratch [32]byte
	if d.Hint.Class != "" {
		b.WriteString(`{"class":`)
		writeJSONString(&b, d.Hint.Class)
		b.WriteString(`,"bound":`)
	} else {
		b.WriteString(`{"bound":`)
	}
	if d.Bound > 0 {
		b.WriteByte('"')
		b.Write(appendRTT(scratch[:0], d.Bound))
		b.WriteByte('"')
	} else {
		b.WriteString(`"none"`)
	}
	b.WriteString(`,"source":`)
	if d.Hint.BoundSource.Kind == "" {
		b.WriteString(`"default"`)
	} else {
		writeJSONString(&b, d.Hint.BoundSource.Kind+"/"+d.Hint.BoundSource.Name)
	}
	b.WriteString(`,"placement":`)
	writeJSONString(&b, string(d.Hint.Placement))
	b.WriteString(`,"local":`)
	b.WriteString(strconv.FormatBool(d.Local))
	n := min(len(d.Remote), maxRecordedClusters)
	if n > 0 {
		b.WriteString(`,"eligible":[`)
		for i, c := range d.Remote[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"id":`)
			writeJSONString(&b, c.ID)
			b.WriteString(`,"rtt":"`)
			if c.HasRTT {
				b.Write(appendRTT(scratch[:0], c.RTT))
			} else {
				b.WriteString("unknown")
			}
			b.WriteString(`"}`)
		}
		b.WriteByte(']')
		if more := len(d.Remote) - n; more > 0 {
			b.WriteString(`,"more":`)
			b.Write(strconv.AppendInt(scratch[:0], int64(more), 10))
		}
	}
	if d.Reason != "" {
		b.WriteString(`,"reason":`)
		writeJSONString(&b, d.Reason)
	}
	if note := d.Hint.Note(); note != "" {
		b.WriteString(`,"note":`)
		writeJSONString(&b, note)
	}
	if d.Hint.MoveSource.Kind != "" {
		b.WriteString(`,"move":`)
		writeJSONString(&b, string(d.Hint.Move))
	}
	b.WriteByte('}')
	return b.String()
}

// writeJSONString quotes s exactly as encoding/json does (HTML-safe escaping included).
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\b': // encoding/json writes the short escapes since Go 1.22
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xF])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xF])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// ParseRecord reads a kubexr.io/decision annotation back.
func ParseRecord(s string) (Record, error) {
	var r Record
	err := json.Unmarshal([]byte(s), &r)
	return r, err
}
