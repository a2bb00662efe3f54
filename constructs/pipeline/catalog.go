package pipeline

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/waves"
)

// Where a pipeline finds its region catalog.
const (
	// ContextCatalogFile is the CDK context key naming a catalog file.
	ContextCatalogFile = "safepipe:catalog"
	// ContextCatalogParameter is the CDK context key naming the SSM
	// parameter in which the platform team publishes the catalog.
	ContextCatalogParameter = "safepipe:catalogParameter"
	// EnvCatalogFile is the environment variable naming a catalog file.
	EnvCatalogFile = "SAFEPIPE_CATALOG"
)

// CatalogSource says where a resolved catalog came from.
type CatalogSource string

// ResolveCatalog returns the catalog a pipeline deploys to, by precedence:
//
//  1. a file named by the "safepipe:catalog" context key, then by the
//     SAFEPIPE_CATALOG environment variable;
//  2. the SSM parameter named by parameterName (or, when empty, by the
//     "safepipe:catalogParameter" context key), read with a CDK context
//     lookup: the CDK CLI fetches it once and caches it in
//     cdk.context.json, which the team commits, so synth stays
//     deterministic; "cdk context --reset" pulls the newest catalog;
//  3. the catalog embedded in safepipe (waves.DefaultCatalog).
//
// The SSM lookup needs scope's stack to have a concrete account and region.
// While the CLI has not yet looked the value up, the lookup returns a dummy
// value; ResolveCatalog then uses the embedded catalog for that first pass.
func ResolveCatalog(scope constructs.Construct, parameterName string) (*waves.Catalog, CatalogSource, error) {
	if v := scope.Node().TryGetContext(jsii.String(ContextCatalogFile)); v != nil {
		path, ok := v.(string)
		if !ok || path == "" {
			return nil, "", fmt.Errorf("context %s: want a file path, got %v", ContextCatalogFile, v)
		}
		c, err := waves.LoadCatalogFile(path)
		return c, CatalogSource("file:" + path), err
	}
	if path := os.Getenv(EnvCatalogFile); path != "" {
		c, err := waves.LoadCatalogFile(path)
		return c, CatalogSource("file:" + path), err
	}
	if parameterName == "" {
		if v, ok := scope.Node().TryGetContext(jsii.String(ContextCatalogParameter)).(string); ok {
			parameterName = v
		}
	}
	if parameterName != "" {
		value := awsssm.StringParameter_ValueFromLookup(awscdk.Stack_Of(scope), jsii.String(parameterName), nil, nil)
		if value == nil || strings.HasPrefix(*value, "dummy-value-for-") {
			return waves.DefaultCatalog(), CatalogSource("ssm:" + parameterName + " (pending lookup; embedded catalog used)"), nil
		}
		c, err := waves.ParseCatalog([]byte(*value))
		if err != nil {
			return nil, "", fmt.Errorf("catalog from SSM parameter %s: %w", parameterName, err)
		}
		return c, CatalogSource("ssm:" + parameterName), nil
	}
	return waves.DefaultCatalog(), CatalogSource("embedded:" + waves.DefaultCatalog().Version), nil
}
