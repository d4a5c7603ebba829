package poller

import (
	"encoding/json"
	"strings"
	"testing"
)

// goldenRecords are customer records, odd ones included, whose digests and
// event ids TestGolden pins. The values were computed once, by the code
// that first published events: they must never change, since digests are
// kept in the state and ids deduplicate events across versions.
var goldenRecords = []struct {
	name   string
	record string
}{
	{"plain", `{"id":"cus_1","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","phone":"5550100","updatedAt":"2026-11-27T10:00:00.000Z","updatedBy":"u-1","updatedVia":"api"}`},
	{"reordered with spaces", " {\n \"updatedVia\" : \"api\", \"phone\":\"5550100\",\"email\":\"ada@example.com\",\t\"lastName\":\"Lovelace\",\"firstName\":\"Ada\",\"id\":\"cus_1\",\"updatedBy\":\"u-1\",\"updatedAt\":\"2026-11-27T10:00:00.000Z\"} "},
	{"empty", `{}`},
	{"nulls", `{"id":"cus_2","lastName":null,"cityId":null,"internalNote":null,"updatedAt":null}`},
	{"unicode", `{"id":"cus_3","firstName":"Zoë 李 🙂","lastName":"Ünal","internalNote":"ﬁ\u00e9\u2028"}`},
	{"escapes", `{"id":"cus_4","firstName":"A\u0064a \"the\" \\ \/ \b\f\n\r\t","\u006castName":"x","emoji":"\ud83d\ude42","lone":"\ud800x","lowfirst":"\udc00\ud800"}`},
	{"invalid utf-8", "{\"id\":\"cus_5\",\"firstName\":\"Ad\xe9\",\"n\xff\":1}"},
	{"numbers", `{"id":"cus_6","a":0,"b":-0,"c":1,"d":1.0,"e":10e-1,"f":-12.500e+3,"g":123456789012345678901234567890,"h":1e400,"i":-1E-400,"j":0.000001,"k":9007199254740993}`},
	{"nested", `{"id":"cus_7","gender":{"value":"F","x":[1,[2,[3,{"deep":{"deeper":[]}}]],{}]},"tags":["a","b",null,true,false],"o":{"z":1,"a":{"y":2,"b":3}}}`},
	{"duplicate keys", `{"id":"cus_8","a":1,"b":2,"a":3,"b":{"c":1,"c":2}}`},
	{"touched", `{"id":"cus_1","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","phone":"5550100","updatedAt":"2026-11-28T09:00:00.000Z","updatedBy":"u-2","updatedVia":"ui"}`},
	{"long", `{"id":"cus_9","internalNote":"` + strings.Repeat("note ", 2000) + `","phone":"5550100"}`},
}

type goldenWant struct {
	digest, whole uint64
	created       string // ID of the created event
	deleted       string // ID of the deleted event
	updated       string // ID of the update from goldenRecords[0] to it; "" when Diff is empty
	sketchUpdated string // ID of that update when the state kept only a sketch of goldenRecords[0]
	sketch        string // newSketch with fields
}

func TestGolden(t *testing.T) {
	first := json.RawMessage(goldenRecords[0].record)
	sketch0, err := newSketch(first, true)
	if err != nil {
		t.Fatal(err)
	}
	whole0, err := wholeDigest(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenRecords {
		t.Run(g.name, func(t *testing.T) {
			rec := json.RawMessage(g.record)
			var got goldenWant
			if got.digest, err = Digest(rec); err != nil {
				t.Fatal(err)
			}
			if got.whole, err = wholeDigest(rec); err != nil {
				t.Fatal(err)
			}
			got.created = goldenID(t, nil, rec)
			got.deleted = goldenID(t, rec, nil)
			got.updated = goldenID(t, first, rec)
			ev, ok, err := sketchEvent("cus_1", saved{record: sketch0, digest: whole0}, rec, detected)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got.sketchUpdated = ev.ID()
			}
			sk, err := newSketch(rec, true)
			if err != nil {
				t.Fatal(err)
			}
			got.sketch = string(sk)
			want, ok := goldenWants[g.name]
			if !ok {
				t.Fatalf("no want: got %#v", got)
			}
			if got != want {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
		})
	}
}

// goldenID returns the ID of the event from before to after, "" when there
// is none.
func goldenID(t *testing.T, before, after json.RawMessage) string {
	t.Helper()
	ev, ok, err := NewEvent("cus_1", before, after, detected)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return ev.ID()
}

var goldenWants = map[string]goldenWant{
	"plain": {digest: 0x9bf84397d3908a8d, whole: 0xd1ab2b4c3fa15195,
		created: "40b6b6e6cfbf9baca37d02289c8da57f", deleted: "ce229ca816068e02aa4204ab80f7ace2",
		updated: "", sketchUpdated: "",
		sketch: "{\"updatedAt\":\"2026-11-27T10:00:00.000Z\",\"fields\":{\"email\":\"05c73a9f5ddc2ca9\",\"firstName\":\"52b484d62c4e0ad0\",\"id\":\"696f322a99da8779\",\"lastName\":\"dfa1791e4492713f\",\"phone\":\"bf26bf77f39c5c5b\"}}"},
	"reordered with spaces": {digest: 0x9bf84397d3908a8d, whole: 0xd1ab2b4c3fa15195,
		created: "40b6b6e6cfbf9baca37d02289c8da57f", deleted: "ce229ca816068e02aa4204ab80f7ace2",
		updated: "", sketchUpdated: "",
		sketch: "{\"updatedAt\":\"2026-11-27T10:00:00.000Z\",\"fields\":{\"email\":\"05c73a9f5ddc2ca9\",\"firstName\":\"52b484d62c4e0ad0\",\"id\":\"696f322a99da8779\",\"lastName\":\"dfa1791e4492713f\",\"phone\":\"bf26bf77f39c5c5b\"}}"},
	"empty": {digest: 0xef46db3751d8e999, whole: 0xef31757be63bb553,
		created: "1c0286290b30176dda9be42b6ed87269", deleted: "5f38ce45643d606af7385d80cacc8bfa",
		updated: "05616453125332cc391c131127dcb310", sketchUpdated: "530ae7572098b4e599326ebdd918f194",
		sketch: "{}"},
	"nulls": {digest: 0x013c28f3bc17c056, whole: 0xc6e234ed596026ec,
		created: "2c171c726caeb4473188f4be4034aa37", deleted: "a58b2f81fbadba88810587dabf084516",
		updated: "93f01dce20d58f3987e8e3eaa5148cab", sketchUpdated: "3a1a550382c64b874f4d294528722b31",
		sketch: "{\"fields\":{\"id\":\"ea695c0b94bb6e3d\"}}"},
	"unicode": {digest: 0xbe7da8b5e8fa6165, whole: 0xa622b592a26c73d2,
		created: "1878bcb8cd9a676847fd7d843d5b493c", deleted: "97970aa95f5c46ac8c1c06887a95f9dc",
		updated: "294145e2f0a59e5c782d3241bc9fe375", sketchUpdated: "dc1b54a366b29515da98c351f550a710",
		sketch: "{\"fields\":{\"firstName\":\"14285bfe9752b660\",\"id\":\"95d2dd75131bff47\",\"internalNote\":\"ea967b94f769d335\",\"lastName\":\"9c30844192759535\"}}"},
	"escapes": {digest: 0x178217759eca9cbb, whole: 0xbb59b8328e4dd96b,
		created: "310df57cee3ac48460bf4272f7a167da", deleted: "e97573060fe1f2b97c52c03f87be96cd",
		updated: "7dc4c17a2f423aacb34eec67c64d2423", sketchUpdated: "ba5ab420dcb0a96b6e02aa931f3a9b5e",
		sketch: "{\"fields\":{\"emoji\":\"5646b03c955d86bc\",\"firstName\":\"5fc6e8572b96dbd0\",\"id\":\"86575257c1338c48\",\"lastName\":\"b036fa2f59d65371\",\"lone\":\"86b7f1665db35e27\",\"lowfirst\":\"e7947d15b9bce5d9\"}}"},
	"invalid utf-8": {digest: 0x0d2c29a0dec94a18, whole: 0xc3b8d6d159f3f30d,
		created: "81e3db843ea21bc1d04a51bbc9868ded", deleted: "58fa9e6001159771b7aef0f9fa5eb324",
		updated: "9f08c79d896580fb6c45804b72a3b7c6", sketchUpdated: "d49dc9527ee11c4d1c273e38274a2ed4",
		sketch: "{\"fields\":{\"firstName\":\"2be20cdf8e83d980\",\"id\":\"736e4095fb88a1c8\",\"n�\":\"dbaa23976876c62d\"}}"},
	"numbers": {digest: 0x16a3525b6a00d581, whole: 0x816050c8d4445195,
		created: "a0a69fae75f329530da6daa0b85a44dd", deleted: "3caa8e49833b6d46f9121711794993bc",
		updated: "8662d38669e8d2f82438df497833c983", sketchUpdated: "5b21bfe25746c4c92b024e1520e6f002",
		sketch: "{\"fields\":{\"a\":\"8b21f08d95f4bc05\",\"b\":\"8b21f08d95f4bc05\",\"c\":\"dbaa23976876c62d\",\"d\":\"dbaa23976876c62d\",\"e\":\"dbaa23976876c62d\",\"f\":\"abc0e3a97e922efe\",\"g\":\"73f271d52eda6b2f\",\"h\":\"c6da95ac9b9d2a88\",\"i\":\"bf2cce72bc82c9b3\",\"id\":\"d9e9f8d5068f9948\",\"j\":\"aee0f2a973a6e2c9\",\"k\":\"f6627ac6634f09d7\"}}"},
	"nested": {digest: 0x26f8d490559713d3, whole: 0x052ae5ce8c816516,
		created: "7586edd3ddb3f51aaa11c4c3584ad7a4", deleted: "0a0f451453a41b806ec4be72bae65e54",
		updated: "f085eb48516c7e132a2e2aad2c9f8ef0", sketchUpdated: "39e69b9b433ab989d987485b0b35454a",
		sketch: "{\"fields\":{\"gender\":\"5b7d49c835668623\",\"id\":\"1738c7b435b47b63\",\"o\":\"ab55d3a1c85420f0\",\"tags\":\"ed11375560990d68\"}}"},
	"duplicate keys": {digest: 0xf5d67b42354836ed, whole: 0x39004a4090281ae9,
		created: "2e6582fba4de8284162b5f58c2f8881f", deleted: "06b8289f3abc2dcfc57b3eba7c1e45ee",
		updated: "ddcb68a4ebaf254bb91f4cc26e6cf90c", sketchUpdated: "9f2082bafcacef4123712535fbf8c491",
		sketch: "{\"fields\":{\"a\":\"014b5c06df39d9c2\",\"b\":\"b5ab99e5902945d7\",\"id\":\"2f9afcfab0a60329\"}}"},
	"touched": {digest: 0x9bf84397d3908a8d, whole: 0x0c670239ab301cc5,
		created: "b1b7fe719b04bfefd0fe710858c58a0e", deleted: "4cead2371b6b1a9a753b3cba63e3a05f",
		updated: "", sketchUpdated: "",
		sketch: "{\"updatedAt\":\"2026-11-28T09:00:00.000Z\",\"fields\":{\"email\":\"05c73a9f5ddc2ca9\",\"firstName\":\"52b484d62c4e0ad0\",\"id\":\"696f322a99da8779\",\"lastName\":\"dfa1791e4492713f\",\"phone\":\"bf26bf77f39c5c5b\"}}"},
	"long": {digest: 0xebb98e33b23a0458, whole: 0xfa60a318d093e101,
		created: "24af0244fc64239703b579c883acbd71", deleted: "dcb7dd8b5c4f618d56fef0ef1fecb0e5",
		updated: "32dcc6662ac1704ca4293540e8c37662", sketchUpdated: "ff3190d3efc19803990f5422b19441a1",
		sketch: "{\"fields\":{\"id\":\"55a532aa8048756e\",\"internalNote\":\"63736da9da7a2b37\",\"phone\":\"bf26bf77f39c5c5b\"}}"},
}
