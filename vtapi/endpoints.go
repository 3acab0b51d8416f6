package vtapi

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/filetrail/filetrail"
)

// objectHandler serves GET /api/v3/{collection}/{id}: the object, with the
// relationships named in ?relationships=a,b embedded (first
// EmbeddedPageLimit descriptors each). An unknown relationship name is
// InvalidArgument; one the key may not see is left out.
func (s *server) objectHandler(k *objectKind) prepareFunc {
	return func(req *apiRequest) (work, error) {
		id, err := k.parseID(req.r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		rels, err := embeddedRelationships(k, req)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, out *body) error {
			obj, err := k.load(ctx, s.store, id)
			if err != nil {
				return err
			}
			b := append(out.b, `{"data":`...)
			b = appendObjectHead(b, req.base, k.typ, k.collection, obj.id)
			b = append(b, `,"attributes":`...)
			out.b = appendRaw(b, obj.attributes)
			if rels != nil {
				out.b = append(out.b, `,"relationships":{`...)
				for i, rel := range rels {
					p, err := rel.load(ctx, s.store, obj.id, filetrail.PageRequest{Limit: EmbeddedPageLimit}, filetrail.WithoutAttributes)
					if err != nil {
						return err
					}
					if i > 0 {
						out.b = append(out.b, ',')
					}
					out.b = appendString(out.b, rel.name)
					out.b = append(out.b, ':')
					appendList(out, req.base, p, listView{
						url:     relationshipURL(req.base, k, obj.id, rel),
						related: listURL(req.base, k, obj.id, rel),
						limit:   EmbeddedPageLimit,
					})
				}
				out.b = append(out.b, '}')
			}
			out.b = append(out.b, `}}`...)
			return nil
		}, nil
	}
}

// embeddedRelationships parses ?relationships=a,b: the named relationships
// of kind k that the key may see, in the order asked, without repeats; nil
// when none was asked.
func embeddedRelationships(k *objectKind, req *apiRequest) ([]*relationship, error) {
	vs := req.query["relationships"]
	if len(vs) == 0 {
		return nil, nil
	}
	var rels []*relationship
	asked := false
	for _, v := range vs {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			asked = true
			rel := k.relationship(name)
			if rel == nil {
				return nil, filetrail.Errorf(filetrail.CodeInvalidArgument, "Unknown relationship %q for %s objects", truncate(name, 100), k.typ)
			}
			if (rel.premium && !req.key.Premium) || containsRel(rels, rel) {
				continue
			}
			rels = append(rels, rel)
		}
	}
	if asked && rels == nil {
		rels = []*relationship{} // asked, none visible: an empty relationships object
	}
	return rels, nil
}

func containsRel(rels []*relationship, rel *relationship) bool {
	for _, r := range rels {
		if r == rel {
			return true
		}
	}
	return false
}

// listHandler serves a relationship as a list: descriptors when
// descriptorsPath (the /relationships/{name} form) or ?descriptors_only=true,
// else full objects.
func (s *server) listHandler(k *objectKind, rel *relationship, descriptorsPath bool) prepareFunc {
	return func(req *apiRequest) (work, error) {
		id, err := k.parseID(req.r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		pr, err := parsePage(req.query, rel.cursor)
		if err != nil {
			return nil, err
		}
		descriptorsOnly := false
		if !descriptorsPath {
			if descriptorsOnly, err = parseBool(req.query, "descriptors_only"); err != nil {
				return nil, err
			}
		}
		descriptors := descriptorsPath || descriptorsOnly
		view := listView{
			limit:           pr.Limit,
			cursor:          lastValue(req.query, "cursor"),
			descriptorsOnly: descriptorsOnly,
		}
		if descriptorsPath {
			view.url = relationshipURL(req.base, k, id, rel)
		} else {
			view.url = listURL(req.base, k, id, rel)
		}
		return func(ctx context.Context, out *body) error {
			form := filetrail.WithoutAttributes
			if !descriptors {
				form = out.documentForm()
			}
			p, err := rel.load(ctx, s.store, id, pr, form)
			if err != nil {
				return err
			}
			appendList(out, req.base, p, view)
			return nil
		}, nil
	}
}

// listURL is the absolute URL of a relationship's full list.
func listURL(base string, k *objectKind, id string, rel *relationship) string {
	return base + "/api/v3/" + k.collection + "/" + id + "/" + rel.name
}

// relationshipURL is the absolute URL of a relationship's descriptor list.
func relationshipURL(base string, k *objectKind, id string, rel *relationship) string {
	return base + "/api/v3/" + k.collection + "/" + id + "/relationships/" + rel.name
}

// listView is how a page of a relationship is shown.
type listView struct {
	url             string // absolute URL of the list endpoint, without query
	related         string // embedded lists: URL of the full list
	limit           int    // the effective page size
	cursor          string // the request's cursor, "" for the first page
	descriptorsOnly bool   // links carry descriptors_only=true
}

// appendList appends a page as a VT collection (API.md §4):
// {"data":[...],"meta":{"count":N,"cursor":C},"links":{"self":S,"next":X}}.
// The cursor and the next link are present exactly when more items remain,
// never on an empty page; self replays this page.
func appendList(out *body, base string, p page, v listView) {
	out.b = append(out.b, `{"data":[`...)
	for i := range p.n {
		if i > 0 {
			out.b = append(out.b, ',')
		}
		p.item(out, base, i)
	}
	b := append(out.b, `],"meta":{"count":`...)
	b = appendInt(b, p.count)
	next := ""
	if p.next != nil && p.n > 0 {
		next = p.next.Encode()
		b = append(b, `,"cursor":`...)
		b = appendString(b, next)
	}
	b = append(b, `},"links":{"self":`...)
	b = appendString(b, pageURL(v.url, v.cursor, v.limit, v.descriptorsOnly))
	if v.related != "" {
		b = append(b, `,"related":`...)
		b = appendString(b, v.related)
	}
	if next != "" {
		b = append(b, `,"next":`...)
		b = appendString(b, pageURL(v.url, next, v.limit, v.descriptorsOnly))
	}
	out.b = append(b, `}}`...)
}

// buildMetadata builds the /api/v3/metadata response: the relationships
// of each object type (the official CLI builds its sub-commands from
// them), the privileges, and the engines (none: filetrail runs no
// antivirus engines).
func buildMetadata() []byte {
	type relMeta struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	rels := map[string][]relMeta{}
	for _, k := range objectKinds {
		list := []relMeta{}
		for _, rel := range k.relationships {
			list = append(list, relMeta{rel.name, rel.description})
		}
		rels[k.typ] = list
	}
	b, err := json.Marshal(map[string]any{"data": map[string]any{
		"relationships": rels,
		"privileges":    privileges,
		"engines":       map[string]any{},
	}})
	if err != nil {
		panic(err) // static data of known types
	}
	return b
}
