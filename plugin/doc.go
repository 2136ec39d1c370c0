// Package plugin implements the kubectl xr commands: one file per verb, each with an
// Options struct (Complete, Validate, Run) and a NewCmd constructor taking injected
// IOStreams, so every command is tested in-process.
package plugin
