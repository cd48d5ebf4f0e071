package web

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/outpost-status/outpost/static"
)

// CacheContract lets clients and CDNs keep the API contract for an hour:
// it changes only with the binary.
const CacheContract = "public, max-age=3600"

// openAPI prepares /api/openapi.json from the embedded YAML contract,
// once: tools (code generators, Postman, Swagger UI) want JSON.
func openAPI() (*Prepared, error) {
	var doc any
	if err := yaml.Unmarshal(static.OpenAPI(), &doc); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		// Every mapping key must be a string (quote response codes).
		return nil, fmt.Errorf("convert the OpenAPI document to JSON: %w", err)
	}
	return Prepare(body, "application/json", CacheContract), nil
}
