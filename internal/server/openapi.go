package server

import _ "embed"

// openAPIDocument is the API's OpenAPI 3 document, served at GET /v1/openapi.json.
//
//go:embed openapi.json
var openAPIDocument []byte
