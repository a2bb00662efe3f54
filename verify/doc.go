// Package verify checks synthesized CodePipeline cloud assemblies against
// safepipe's safe-deployment rules. It is pure Go: it reads templates and
// manifests as JSON and imports no CDK package.
package verify
