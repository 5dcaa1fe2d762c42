package generator

import (
	"math"
	"math/rand/v2"
	"sort"
)

// weighted picks items with fixed relative weights.
type weighted[T any] struct {
	items []T
	cum   []float64 // cumulative weights; cum[len-1] is the total
}

func newWeighted[T any](items []T, weights []float64) weighted[T] {
	if len(items) != len(weights) || len(items) == 0 {
		// Only reachable by editing a literal table in this package.
		panic("generator: weighted needs one weight per item")
	}
	cum := make([]float64, len(weights))
	total := 0.0
	for i, w := range weights {
		total += w
		cum[i] = total
	}
	return weighted[T]{items: items, cum: cum}
}

func (w weighted[T]) pick(r *rand.Rand) T {
	x := r.Float64() * w.cum[len(w.cum)-1]
	i := sort.SearchFloat64s(w.cum, x)
	return w.items[min(i, len(w.items)-1)]
}

// skewed returns an index in [0, n) where low indexes are far more likely:
// with power p = halves/2 the top fraction f of indexes draws f^(1/p) of the
// picks (p=2: the top 1% draws 10%). Callers map the index through a
// permutation so that popularity is not tied to id order.
//
// This and logUniform use only multiplication and math.Sqrt, which IEEE 754
// rounds the same way everywhere; math.Pow, Exp and Log have per-architecture
// assembly that may differ in the last bit and would break "same Spec, same
// data" across machines once a value is truncated to cents or an index.
func skewed(r *rand.Rand, n, halves int) int {
	u := r.Float64()
	x := 1.0
	for range halves / 2 {
		x *= u
	}
	if halves%2 == 1 {
		x *= math.Sqrt(u)
	}
	return min(int(float64(n)*x), n-1)
}

// logUniform draws from [lo, hi) with equal weight per order of magnitude,
// the usual shape of prices and weights in a catalogue. It computes
// lo*(hi/lo)^u bit by bit from repeated square roots (see skewed for why).
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	u := r.Float64()
	ratio, x := hi/lo, 1.0
	for range 32 {
		ratio = math.Sqrt(ratio)
		u *= 2 // exact, as is the subtraction below
		if u >= 1 {
			x *= ratio
			u--
		}
	}
	return lo * x
}

type city struct {
	name, country string
}

type category struct {
	name        string
	code        string // SKU prefix
	weight      float64
	brands      []string
	nouns       []string
	minPrice    float64
	maxPrice    float64
	minGrams    float64
	maxGrams    float64
	hasVariants bool // adds a colour or size to the product name
}

// vocab holds the word lists rows are drawn from. It is built per Generate
// call rather than kept in package variables so the package has no globals.
type vocab struct {
	cities       weighted[city]
	firstNames   []string
	lastNames    []string
	emailDomains []string
	categories   []category
	categoryPick weighted[int] // index into categories
	variants     []string
	editions     []string // "" means no edition suffix
	userAgents   weighted[string]
}

func newVocab() *vocab {
	cities := []city{
		{"New York", "US"}, {"Los Angeles", "US"}, {"Chicago", "US"}, {"Houston", "US"},
		{"Seattle", "US"}, {"Austin", "US"}, {"Boston", "US"}, {"Denver", "US"},
		{"London", "GB"}, {"Manchester", "GB"}, {"Bristol", "GB"}, {"Edinburgh", "GB"},
		{"Berlin", "DE"}, {"Munich", "DE"}, {"Hamburg", "DE"}, {"Cologne", "DE"},
		{"Paris", "FR"}, {"Lyon", "FR"}, {"Marseille", "FR"},
		{"Amsterdam", "NL"}, {"Rotterdam", "NL"},
		{"Madrid", "ES"}, {"Barcelona", "ES"},
		{"Milan", "IT"}, {"Rome", "IT"},
		{"Toronto", "CA"}, {"Vancouver", "CA"}, {"Montreal", "CA"},
		{"Sydney", "AU"}, {"Melbourne", "AU"},
		{"Dublin", "IE"},
	}
	// Rough relative shares of the customer base, in the order of cities.
	cityWeights := []float64{
		9, 6, 5, 4, 3, 3, 3, 2,
		6, 2, 1.5, 1.5,
		4, 2.5, 2, 1.5,
		3.5, 1.5, 1,
		2, 1,
		2, 1.5,
		1.5, 1.5,
		2.5, 1.5, 1,
		2, 1.5,
		1.5,
	}

	categories := []category{
		{"electronics", "ELE", 14, []string{"Sonix", "Voltara", "Pixelon", "Nordwave", "Ampere Labs"},
			[]string{"Wireless Earbuds", "Bluetooth Speaker", "USB-C Charger", "4K Monitor", "Mechanical Keyboard",
				"Smartwatch", "Noise-Cancelling Headphones", "Webcam", "Portable SSD", "Gaming Mouse"},
			12, 900, 40, 6000, false},
		{"home", "HOM", 14, []string{"Hearthly", "Casa Verde", "Oak & Ember", "Lumen Home"},
			[]string{"Ceramic Mug Set", "Linen Duvet Cover", "Cast Iron Skillet", "Scented Candle", "Table Lamp",
				"Bath Towel Set", "Chef's Knife", "French Press", "Throw Blanket", "Storage Baskets"},
			8, 250, 150, 5000, true},
		{"garden", "GAR", 6, []string{"GreenThumb", "Terrafirm", "Bloomwell"},
			[]string{"Pruning Shears", "Garden Hose", "Raised Planter", "Watering Can", "Seed Starter Kit",
				"Solar Path Lights", "Compost Bin", "Hand Trowel"},
			6, 300, 100, 12000, false},
		{"toys", "TOY", 8, []string{"Tinker Tots", "Brickworks", "Playfield", "Wondercub"},
			[]string{"Building Blocks Set", "Plush Bear", "1000-Piece Puzzle", "RC Car", "Board Game",
				"Wooden Train Set", "Art Kit", "Dollhouse"},
			8, 150, 80, 4000, false},
		{"beauty", "BEA", 10, []string{"Lumière", "Pure Botanica", "Velvetine", "Dermacare"},
			[]string{"Hydrating Face Serum", "Matte Lipstick", "Vitamin C Cream", "Shampoo", "Eyeliner",
				"Sunscreen SPF 50", "Hair Dryer", "Nail Polish Set"},
			5, 120, 20, 900, true},
		{"sports", "SPO", 9, []string{"Stridex", "Peakform", "AeroFit", "Trailhead"},
			[]string{"Yoga Mat", "Running Shoes", "Adjustable Dumbbells", "Cycling Helmet", "Water Bottle",
				"Resistance Bands", "Tennis Racket", "Hiking Backpack"},
			10, 400, 150, 20000, true},
		{"books", "BOO", 9, []string{"Penfold Press", "Northlight Books", "Quarry House"},
			[]string{"Cookbook", "Mystery Novel", "Science Fiction Novel", "Picture Book", "Biography",
				"Travel Guide", "Poetry Collection", "History of Europe"},
			7, 45, 150, 1500, false},
		{"fashion", "FAS", 16, []string{"Atelier Nord", "Denimco", "Maison Rue", "Threadline"},
			[]string{"Slim Fit Jeans", "Cotton T-Shirt", "Wool Sweater", "Leather Belt", "Rain Jacket",
				"Sneakers", "Silk Scarf", "Chino Shorts"},
			12, 250, 80, 1800, true},
		{"pet", "PET", 6, []string{"Pawsome", "Whisker & Co"},
			[]string{"Dog Bed", "Cat Scratching Post", "Chew Toy", "Pet Carrier", "Automatic Feeder", "Leash"},
			6, 180, 100, 9000, false},
		{"grocery", "GRO", 8, []string{"Harvest Lane", "Bean & Leaf", "Olivo"},
			[]string{"Ground Coffee", "Green Tea", "Extra Virgin Olive Oil", "Dark Chocolate", "Granola",
				"Pasta Variety Pack"},
			3, 40, 100, 2000, false},
	}
	catIdx := make([]int, len(categories))
	catWeights := make([]float64, len(categories))
	for i, c := range categories {
		catIdx[i], catWeights[i] = i, c.weight
	}

	userAgents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0",
		"Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
	}

	return &vocab{
		cities: newWeighted(cities, cityWeights),
		firstNames: []string{
			"Emma", "Liam", "Olivia", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
			"Mia", "Mateo", "Amelia", "Leo", "Harper", "Oliver", "Charlotte", "Ethan", "Evelyn", "Henry",
			"Hannah", "Jonas", "Lea", "Felix", "Clara", "Paul", "Marie", "Louis", "Chloe", "Hugo",
			"Lucia", "Pablo", "Giulia", "Marco", "Sofia", "Lorenzo", "Aoife", "Sean", "Priya", "Arjun",
			"Mei", "Wei", "Yuki", "Kenji", "Fatima", "Omar", "Zoe", "Daniel", "Grace", "Samuel",
			"Nora", "Elias", "Ines", "Tom", "Julia", "Max", "Anna", "David", "Sarah", "Ben",
		},
		lastNames: []string{
			"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
			"Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Walker", "Hall",
			"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Dubois", "Moreau", "Laurent", "Bernard",
			"Rossi", "Russo", "Ferrari", "Esposito", "Fernández", "González", "Rodríguez", "Sánchez", "de Vries", "Jansen",
			"Murphy", "Kelly", "O'Brien", "Byrne", "Patel", "Singh", "Chen", "Wang", "Nguyen", "Kim",
			"Tanaka", "Sato", "Novak", "Kowalski", "Nielsen", "Hansen", "Silva", "Costa", "Clarke", "Evans",
		},
		// Reserved for documentation (RFC 2606, RFC 6761), so the generated
		// addresses can never reach a real mailbox.
		emailDomains: []string{"example.com", "example.net", "example.org", "mail.example", "shop.example"},
		categories:   categories,
		categoryPick: newWeighted(catIdx, catWeights),
		variants:     []string{"Black", "White", "Navy", "Grey", "Green", "Red", "Small", "Medium", "Large", "XL"},
		editions:     []string{"", "", "", "Pro", "Lite", "Max", "Mini", "Essential", "Plus", "Classic"},
		userAgents:   newWeighted(userAgents, []float64{24, 22, 18, 12, 4, 8, 5, 7}),
	}
}

// currencyOf is the currency a customer in country pays in. The store lists
// the same nominal prices in every currency, so amounts are never converted.
func currencyOf(country string) string {
	switch country {
	case "US":
		return "USD"
	case "GB":
		return "GBP"
	case "CA":
		return "CAD"
	case "AU":
		return "AUD"
	default:
		return "EUR"
	}
}
