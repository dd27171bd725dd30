package topology

import (
	"reflect"
	"testing"
)

func TestParseLSN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want LSN
		err  bool
	}{
		{"0/0", 0, false},
		{"16/B374D848", 0x16B374D848, false},
		{"FFFFFFFF/FFFFFFFF", 0xFFFFFFFFFFFFFFFF, false},
		{"16B374D848", 0, true},
		{"x/1", 0, true},
		{"1/100000000", 0, true},
	} {
		got, err := ParseLSN(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseLSN(%q) = %v, %v", c.in, got, err)
		}
		if !c.err && got.String() != c.in {
			t.Errorf("%q prints as %q", c.in, got.String())
		}
	}
}

func TestParseAddressKeepsNoCredentials(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *Address
	}{
		{"host=127.0.0.1 port=5433 user=u password=secret dbname=app", &Address{"localhost", 5433, "app"}},
		{"postgresql://u:secret@db1.example.com:6000/app?sslmode=disable", &Address{"db1.example.com", 6000, "app"}},
		{"host=DB2 dbname=x", &Address{"db2", 5432, "x"}},
		{"host='unclosed", nil},
	} {
		if got := ParseAddress(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseAddress(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestPairs(t *testing.T) {
	ep := func(name, host, port string) Endpoint {
		return Endpoint{Name: name, Params: map[string]string{"host": host, "port": port, "dbname": "app"}}
	}
	nodes := []Endpoint{ep("n1", "localhost", "5432"), ep("n2", "127.0.0.1", "5433"), ep("n3", "10.0.0.3", "5432")}
	to := func(host string, port uint16) *Address { return &Address{Host: host, Port: port, DBName: "app"} }
	states := []*Node{
		// n1 subscribes to n2 (bidirectional with n2's subscription to n1) and to a server outside
		// the cluster.
		{Subscriptions: []Subscription{{Name: "from_n2", Conn: to("localhost", 5433)}, {Name: "outside", Conn: to("10.9.9.9", 5432)}},
			Slots: []Slot{{Name: "to_n3", Type: "logical", Consumer: "from_n1"}}},
		{Subscriptions: []Subscription{{Name: "from_n1", Conn: to("localhost", 5432)}}},
		// n3 cannot read its connection string: paired by the slot on n1.
		{Subscriptions: []Subscription{{Name: "from_n1", Slot: "to_n3"}, {Name: "unknown", Slot: "nowhere"}}},
	}
	var got []string
	for _, p := range Pairs(nodes, states) {
		got = append(got, nodes[p.Publisher].Name+"->"+nodes[p.Subscriber].Name+" "+p.Subscription.Name)
	}
	want := []string{"n2->n1 from_n2", "n1->n2 from_n1", "n1->n3 from_n1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pairs %q, want %q", got, want)
	}
}
