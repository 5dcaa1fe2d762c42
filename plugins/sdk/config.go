package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ConfigSchema is a compiled configuration schema.
type ConfigSchema struct{ sch *jsonschema.Schema }

// CompileSpec compiles a connector's Spec, checking it against the JSON
// Schema meta-schema.
func CompileSpec(spec []byte) (*ConfigSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec))
	if err != nil {
		return nil, fmt.Errorf("parsing spec: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem:///connector-spec.json", doc); err != nil {
		return nil, fmt.Errorf("loading spec: %w", err)
	}
	sch, err := c.Compile("mem:///connector-spec.json")
	if err != nil {
		return nil, fmt.Errorf("compiling spec: %w", err)
	}
	return &ConfigSchema{sch: sch}, nil
}

// Validate checks config against the schema.
func (s *ConfigSchema) Validate(config json.RawMessage) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(config))
	if err != nil {
		return fmt.Errorf("parsing config: %w", err)
	}
	if err := s.sch.Validate(inst); err != nil {
		return fmt.Errorf("config does not match the connector's spec: %w", err)
	}
	return nil
}

// ValidateConfig compiles spec and checks config against it.
func ValidateConfig(spec []byte, config json.RawMessage) error {
	s, err := CompileSpec(spec)
	if err != nil {
		return err
	}
	return s.Validate(config)
}
