package slo

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Comments holds the YAML trees of SLO files so that a conversion can find
// the comments around a definition by its position (Spec.Pos) and carry
// them over. The loader keeps no YAML, so the model stays format-free.
type Comments struct {
	// mappings are the mapping nodes of every file by position, with the
	// document they stand in.
	mappings map[Position]located
	// named are the documents whose root mapping has a name field, by the
	// position of its value (PolicySpec.Pos).
	named map[Position]*yaml.Node
}

type located struct {
	node, doc *yaml.Node
}

// ReadComments reads the comments of files. A file that cannot be read or
// parsed simply has none: loading it has reported why.
func ReadComments(files ...string) *Comments {
	c := &Comments{}
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && len(data) <= MaxFileSize {
			c.Add(f, data)
		}
	}
	return c
}

// Add reads the comments of data, the content of the file named path.
func (c *Comments) Add(path string, data []byte) {
	if c.mappings == nil {
		c.mappings, c.named = map[Position]located{}, map[Position]*yaml.Node{}
	}
	defer func() { _ = recover() }() // comments are best effort: never fail a conversion
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		doc := &yaml.Node{}
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) || err != nil {
			return
		}
		if len(doc.Content) == 0 {
			continue
		}
		c.index(path, doc, doc.Content[0], 0)
		if root := doc.Content[0]; root.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(root.Content); i += 2 {
				if root.Content[i].Value == "name" {
					v := root.Content[i+1]
					c.named[Position{File: path, Line: v.Line, Column: v.Column}] = doc
				}
			}
		}
	}
}

func (c *Comments) index(path string, doc, n *yaml.Node, depth int) {
	if n == nil || depth > 64 || n.Kind == yaml.AliasNode {
		return
	}
	if n.Kind == yaml.MappingNode {
		p := Position{File: path, Line: n.Line, Column: n.Column}
		if _, dup := c.mappings[p]; !dup {
			c.mappings[p] = located{node: n, doc: doc}
		}
	}
	for _, ch := range n.Content {
		c.index(path, doc, ch, depth+1)
	}
}

// find returns the mapping node at p and its document, or nils.
func (c *Comments) find(p Position) (node, doc *yaml.Node) {
	if c == nil {
		return nil, nil
	}
	l, ok := c.mappings[p]
	if !ok {
		return nil, nil
	}
	return l.node, l.doc
}

// policyDoc returns the document a policy was read from, or nil.
func (c *Comments) policyDoc(p *PolicySpec) *yaml.Node {
	if c == nil {
		return nil
	}
	if doc := c.named[p.Pos]; doc != nil {
		return doc
	}
	if _, doc := c.find(p.Pos); doc != nil && doc.Content[0].Line == p.Pos.Line && doc.Content[0].Column == p.Pos.Column {
		return doc
	}
	return nil
}

// copyComments copies the comments of src's keys and values onto those of
// dst with the same key (rename maps a dst key to its src name where the
// formats differ), recursing into mappings and into lists of scalars.
// Comments already on dst are kept.
func copyComments(dst, src *yaml.Node, rename map[string]string) {
	if dst == nil || src == nil || dst.Kind != yaml.MappingNode || src.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(dst.Content); i += 2 {
		key := dst.Content[i].Value
		if r, ok := rename[key]; ok {
			key = r
		}
		for j := 0; j+1 < len(src.Content); j += 2 {
			if src.Content[j].Value != key {
				continue
			}
			sk, sv := src.Content[j], src.Content[j+1]
			dk, dv := dst.Content[i], dst.Content[i+1]
			comment(dk, sk)
			switch {
			case dv.Kind == yaml.MappingNode && sv.Kind == yaml.MappingNode:
				comment(dv, sv)
				copyComments(dv, sv, rename)
			case dv.Kind == yaml.SequenceNode && sv.Kind == yaml.SequenceNode:
				comment(dv, sv)
				for k, item := range dv.Content {
					if k < len(sv.Content) && item.Kind == yaml.ScalarNode && sv.Content[k].Kind == yaml.ScalarNode {
						comment(item, sv.Content[k])
					}
				}
			case dv.Kind == yaml.ScalarNode && sv.Kind == yaml.ScalarNode:
				comment(dv, sv)
			}
			break
		}
	}
}

// comment copies src's comments where dst has none.
func comment(dst, src *yaml.Node) {
	if dst.HeadComment == "" {
		dst.HeadComment = src.HeadComment
	}
	if dst.LineComment == "" {
		dst.LineComment = src.LineComment
	}
	if dst.FootComment == "" {
		dst.FootComment = src.FootComment
	}
}

// firstKeyHead is the head comment of a mapping's first key, where yaml.v3
// puts a comment written above the mapping.
func firstKeyHead(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		return n.Content[0].HeadComment
	}
	return ""
}

// joinComments joins the non-empty comments with a blank comment line.
func joinComments(cs ...string) string {
	var out []string
	for _, c := range cs {
		if c = strings.TrimSpace(c); c != "" && !contains(out, c) {
			out = append(out, c)
		}
	}
	return strings.Join(out, "\n\n")
}
