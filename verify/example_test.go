package verify_test

import (
	"fmt"
	"os"

	"github.com/safepipe/safepipe/verify"
)

// Verify a cloud assembly and print what is wrong; a CI job would exit
// non-zero when rep.Failed(verify.Warning).
func ExampleAssembly() {
	rep, err := verify.Assembly("testdata/assembly-fail-SP017", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Rule, f.Stage, f.Region, f.Message)
	}
	fmt.Println("failed:", rep.Failed(verify.Warning))
	// Output:
	// SP017 Prod-W2-OneBox eu-west-1 no stack production deploys to eu-west-1 has a composite alarm matching -aggregate-rollback$
	// failed: true
}

// Verify one template with the team's own stage names and a suppression.
func ExampleTemplateReader() {
	f, err := os.Open("testdata/fail/SP005-no-window.template.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	rep, err := verify.TemplateReader(f, "pipeline.json", &verify.Config{
		Suppressions: []verify.Suppression{{Rule: "SP005", Stage: "Prod-W2-OneBox", Reason: "window enforced by the change calendar"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Rule, f.Stage, f.Suppressed, f.Reason)
	}
	// Output:
	// SP005 Prod-W2-OneBox true window enforced by the change calendar
}
