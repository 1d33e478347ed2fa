package notify

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// PosError is a config error at a position in a file.
type PosError struct {
	File         string
	Line, Column int
	Err          error
}

func (e *PosError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
}

func (e *PosError) Unwrap() error { return e.Err }

// positions finds the line:column of a path (mapping keys and sequence
// indices) in the parsed document, for error messages.
type positions struct {
	name string
	root *yaml.Node
}

// errorf returns a function that, given the path of the offending node
// from the document's root, formats "name:line:col: message".
func (p positions) errorf(format string, args ...any) func(path ...any) error {
	return func(path ...any) error {
		return p.at(find(p.root, path), fmt.Errorf(format, args...))
	}
}

// at returns err at n's position.
func (p positions) at(n *yaml.Node, err error) error {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	return &PosError{File: p.name, Line: line, Column: col, Err: err}
}

// find follows path from n as far as it goes. A path that ends at a block
// (a mapping or sequence) gives the block's key, where a reader looks.
func find(n *yaml.Node, path []any) *yaml.Node {
	if n == nil {
		return nil
	}
	for i, step := range path {
		n = unalias(n)
		last := i == len(path)-1
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value != s {
						continue
					}
					next = n.Content[j+1]
					if last && unalias(next).Kind != yaml.ScalarNode {
						next = n.Content[j] // a block: point at its key
					}
					break
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s >= 0 && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return n
}

// unalias returns the node an alias stands for.
func unalias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// knownFields walks a document next to the Go type it decodes into and
// reports every mapping key that the type does not declare, at its
// line:column.
type knownFields struct {
	file string
	// names name types in messages; others are named by their Go name in
	// lower-case words (Delivery "delivery", SecretHeader "secret header").
	names map[reflect.Type]string
	// seen holds the nodes checked against each type: an alias is followed
	// once per anchor and type, so one that contains itself, or a chain
	// of aliases that would expand exponentially, is still checked once.
	seen map[seenKey]bool
}

type seenKey struct {
	n *yaml.Node
	t reflect.Type
}

var nodeType = reflect.TypeOf(yaml.Node{})

func (k *knownFields) check(n *yaml.Node, t reflect.Type, depth int) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A routing tree is rarely more than a few levels deep.
	const maxDepth = 64
	if depth > maxDepth {
		return []error{&PosError{File: k.file, Line: n.Line, Column: n.Column, Err: fmt.Errorf("nested more than %d levels deep", maxDepth)}}
	}
	n = unalias(n)
	if k.seen[seenKey{n, t}] {
		return nil
	}
	k.seen[seenKey{n, t}] = true
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == reflect.TypeOf(time.Time{}) || t == nodeType {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			fields[tag] = f.Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			ft, ok := fields[key.Value]
			if !ok {
				errs = append(errs, &PosError{File: k.file, Line: key.Line, Column: key.Column, Err: fmt.Errorf("unknown field %q in %s", key.Value, k.name(t))})
				continue
			}
			errs = append(errs, k.check(n.Content[i+1], ft, depth+1)...)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				errs = append(errs, k.check(c, t.Elem(), depth+1)...)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				errs = append(errs, k.check(n.Content[i+1], t.Elem(), depth+1)...)
			}
		}
	}
	return errs
}

func (k *knownFields) name(t reflect.Type) string {
	if s, ok := k.names[t]; ok {
		return s
	}
	var b strings.Builder
	for i, r := range t.Name() {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// positionTypeError turns yaml.v3's "line N: ..." messages into
// "name:N:col: ..." lines, taking the column of the first node on that line.
func positionTypeError(name string, doc *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, msg := range te.Errors {
		m := yamlLine.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		errs = append(errs, &PosError{File: name, Line: line, Column: firstColumn(doc, line), Err: errors.New(m[2])})
	}
	return errors.Join(errs...)
}

func firstColumn(n *yaml.Node, line int) int {
	best := 0
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Line == line && n.Kind == yaml.ScalarNode && (best == 0 || n.Column > best) {
			best = n.Column // the value sits right of its key: take the last scalar
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	if best == 0 {
		return 1
	}
	return best
}
