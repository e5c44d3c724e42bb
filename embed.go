// Package vsphereauditexporter holds data the binary embeds from the
// repository: the demo stream of testdata/demo.
package vsphereauditexporter

import _ "embed"

// DemoStream is testdata/demo/stream.txt, the templates of the --demo stream.
//
//go:embed testdata/demo/stream.txt
var DemoStream string
