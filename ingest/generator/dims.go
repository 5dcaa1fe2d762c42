package generator

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

type customer struct {
	id, email, first, last string
	city                   city
	signup                 int64 // Unix microseconds
	vip                    bool
}

// genCustomers makes n customers who all signed up in the three years
// before the order window, so every order follows its customer's signup.
func genCustomers(r *rand.Rand, v *vocab, n int, w window) []customer {
	out := make([]customer, n)
	for i := range out {
		c := &out[i]
		c.id = formatID("c-", i+1, 6)
		c.first = v.firstNames[r.IntN(len(v.firstNames))]
		c.last = v.lastNames[r.IntN(len(v.lastNames))]
		c.city = v.cities.pick(r)
		c.signup = w.start - 1 - r.Int64N(3*365*microsPerDay)
		c.vip = r.Float64() < 0.05

		first, last := asciiFold(c.first), asciiFold(c.last)
		var local string
		switch r.IntN(4) {
		case 0:
			local = first[:1] + last
		case 1:
			local = first + "_" + last
		default:
			local = first + "." + last
		}
		// The customer number keeps addresses unique however names repeat.
		c.email = local + strconv.Itoa(i+1) + "@" + v.emailDomains[r.IntN(len(v.emailDomains))]
	}
	return out
}

// asciiFold lower-cases s and folds it to the letters and digits allowed in
// the local part of the generated email addresses ("O'Brien" → "obrien").
func asciiFold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case strings.ContainsRune("áàâäã", c):
			b.WriteByte('a')
		case strings.ContainsRune("éèêë", c):
			b.WriteByte('e')
		case strings.ContainsRune("íìîï", c):
			b.WriteByte('i')
		case strings.ContainsRune("óòôöõ", c):
			b.WriteByte('o')
		case strings.ContainsRune("úùûü", c):
			b.WriteByte('u')
		case c == 'ñ':
			b.WriteByte('n')
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

type product struct {
	id, sku, name, brand string
	cat                  int // index into vocab.categories
	priceCents           int64
	grams                int32
	created              int64 // Unix microseconds
}

// genProducts makes n products, all listed at least a day before the order
// window opens.
func genProducts(r *rand.Rand, v *vocab, n int, w window) []product {
	out := make([]product, n)
	for i := range out {
		p := &out[i]
		p.cat = v.categoryPick.pick(r)
		c := &v.categories[p.cat]
		p.id = formatID("p-", i+1, 5)
		p.brand = c.brands[r.IntN(len(c.brands))]

		name := p.brand + " " + c.nouns[r.IntN(len(c.nouns))]
		if ed := v.editions[r.IntN(len(v.editions))]; ed != "" {
			name += " " + ed
		}
		if c.hasVariants && r.IntN(2) == 0 {
			name += ", " + v.variants[r.IntN(len(v.variants))]
		}
		p.name = name

		brandCode := strings.ToUpper(asciiFold(p.brand))
		p.sku = formatID(c.code+"-"+brandCode[:min(3, len(brandCode))]+"-", i+1, 6)
		p.priceCents = retailCents(logUniform(r, c.minPrice, c.maxPrice))
		p.grams = int32(logUniform(r, c.minGrams, c.maxGrams)/5) * 5
		p.created = w.start - microsPerDay - r.Int64N(2*365*microsPerDay)
	}
	return out
}

// retailCents rounds a raw price to a shelf price: 7.99, 24.99, 349.99.
func retailCents(p float64) int64 {
	whole := int64(p)
	switch {
	case whole < 20:
		return whole*100 + 99
	case whole < 200:
		return (whole/5*5+4)*100 + 99
	default:
		return (whole/10*10+9)*100 + 99
	}
}

func buildCustomers(mem memory.Allocator, batchRows int, custs []customer) *Table {
	w := newBatchWriter(mem, customersSchema(), batchRows, len(custs))
	f := w.b.Fields()
	id, email := f[0].(*array.StringBuilder), f[1].(*array.StringBuilder)
	first, last := f[2].(*array.StringBuilder), f[3].(*array.StringBuilder)
	cityB, country := f[4].(*array.StringBuilder), f[5].(*array.StringBuilder)
	signup, vip := f[6].(*array.TimestampBuilder), f[7].(*array.BooleanBuilder)
	for i := range custs {
		c := &custs[i]
		id.Append(c.id)
		email.Append(c.email)
		first.Append(c.first)
		last.Append(c.last)
		cityB.Append(c.city.name)
		country.Append(c.city.country)
		signup.Append(arrow.Timestamp(c.signup))
		vip.Append(c.vip)
		w.endRow()
	}
	return w.table(tableCustomers)
}

func buildProducts(mem memory.Allocator, batchRows int, prods []product, v *vocab) *Table {
	w := newBatchWriter(mem, productsSchema(), batchRows, len(prods))
	f := w.b.Fields()
	id, sku := f[0].(*array.StringBuilder), f[1].(*array.StringBuilder)
	name, cat := f[2].(*array.StringBuilder), f[3].(*array.StringBuilder)
	brand, price := f[4].(*array.StringBuilder), f[5].(*array.Decimal128Builder)
	grams, created := f[6].(*array.Int32Builder), f[7].(*array.TimestampBuilder)
	for i := range prods {
		p := &prods[i]
		id.Append(p.id)
		sku.Append(p.sku)
		name.Append(p.name)
		cat.Append(v.categories[p.cat].name)
		brand.Append(p.brand)
		price.Append(decimal128.FromI64(p.priceCents))
		grams.Append(p.grams)
		created.Append(arrow.Timestamp(p.created))
		w.endRow()
	}
	return w.table(tableProducts)
}
