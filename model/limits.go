package model

// Limits bound the memory and time a reader spends on one input, so that no
// file, however it is written, makes it run out of memory or run for
// minutes. An input beyond a limit is an error that names the limit; the
// zero value of a field means its default. See the package documentation
// for why each default is what it is.
type Limits struct {
	// MaxFileBytes bounds one template or manifest read from disk.
	// Default: 8 MiB (eight times CloudFormation's 1 MB template quota, so
	// an oversized template is still read and reported by SP027).
	MaxFileBytes int64
	// MaxTotalBytes bounds all the files of one cloud assembly.
	// Default: 64 MiB.
	MaxTotalBytes int64
	// MaxAssemblies bounds the manifests read (the root and every nested
	// assembly). Default: 256.
	MaxAssemblies int
	// MaxNesting bounds how deep nested assemblies go. Default: 16.
	MaxNesting int
	// MaxTemplates bounds the stack templates of one assembly.
	// Default: 2000.
	MaxTemplates int
	// MaxJSONDepth bounds the nesting of objects and arrays in one JSON
	// document. Default: 128.
	MaxJSONDepth int
	// MaxExpansion bounds the string one intrinsic function (Fn::Join,
	// nested however deep) may expand to. Default: 1 MiB, CloudFormation's
	// template quota: no value of a valid template flattens to more.
	MaxExpansion int
	// MaxTemplateExpansion bounds the sum of the expansions of all the
	// intrinsic functions of one template. Default: 16 MiB.
	MaxTemplateExpansion int
	// MaxStages, MaxActions and MaxRules bound what verify analyses in one
	// pipeline: stages, actions per stage, rules per condition. A pipeline
	// beyond them is refused (CodePipeline itself allows 50 stages, 50
	// actions per stage and 5 rules per condition; SP011 and SP020 report
	// anything above those). Default: 1000 each.
	MaxStages, MaxActions, MaxRules int
	// MaxWaitMinutes bounds a CloudWatchAlarm rule's WaitTime. Default:
	// 86,400 minutes (60 days, the longest timeout CodePipeline documents
	// for any action; it documents none for WaitTime).
	MaxWaitMinutes int
}

// DefaultLimits returns the limits verify uses unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:         8 << 20,
		MaxTotalBytes:        64 << 20,
		MaxAssemblies:        256,
		MaxNesting:           16,
		MaxTemplates:         2000,
		MaxJSONDepth:         128,
		MaxExpansion:         1 << 20,
		MaxTemplateExpansion: 16 << 20,
		MaxStages:            1000,
		MaxActions:           1000,
		MaxRules:             1000,
		MaxWaitMinutes:       86400,
	}
}

// OrDefault fills the zero fields of l with the defaults (nil: all).
func (l *Limits) OrDefault() Limits {
	d := DefaultLimits()
	if l == nil {
		return d
	}
	out := *l
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set64(&out.MaxFileBytes, d.MaxFileBytes)
	set64(&out.MaxTotalBytes, d.MaxTotalBytes)
	set(&out.MaxAssemblies, d.MaxAssemblies)
	set(&out.MaxNesting, d.MaxNesting)
	set(&out.MaxTemplates, d.MaxTemplates)
	set(&out.MaxJSONDepth, d.MaxJSONDepth)
	set(&out.MaxExpansion, d.MaxExpansion)
	set(&out.MaxTemplateExpansion, d.MaxTemplateExpansion)
	set(&out.MaxStages, d.MaxStages)
	set(&out.MaxActions, d.MaxActions)
	set(&out.MaxRules, d.MaxRules)
	set(&out.MaxWaitMinutes, d.MaxWaitMinutes)
	return out
}
