package kafka

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"
)

func TestValidateSaysWhatIsMissingOrInvalid(t *testing.T) {
	ok := Config{Brokers: []string{"b:9092"}, Topics: []string{"t"}, Group: "g", Table: table.Identifier{"raw", "t"}}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{name: "a complete config is valid", change: func(*Config) {}},
		{name: "brokers are required", change: func(c *Config) { c.Brokers = nil }, want: "no brokers"},
		{name: "topics are required", change: func(c *Config) { c.Topics = nil }, want: "no topics"},
		{name: "a consumer group is required", change: func(c *Config) { c.Group = "" }, want: "no consumer group"},
		{name: "the table must name a zone", change: func(c *Config) { c.Table = table.Identifier{"t"} }, want: "is not <zone>.<table>"},
		{name: "a declared column must be fillable from JSON",
			change: func(c *Config) {
				c.Schema = arrow.NewSchema([]arrow.Field{{Name: "b", Type: arrow.BinaryTypes.Binary}}, nil)
			}, want: `column "b": type binary cannot be filled`},
		{name: "a declared column may not take a lineage column's name",
			change: func(c *Config) {
				c.Schema = arrow.NewSchema([]arrow.Field{{Name: "_source", Type: arrow.BinaryTypes.String}}, nil)
			}, want: "collides with a lineage column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}
