CREATE DOMAIN amount AS numeric CHECK (VALUE >= 0);
CREATE TABLE public.orders (region text, id int, total numeric(10,2), fee amount, note text, tags text[], paid boolean,
	big bigint, doc jsonb, PRIMARY KEY (region, id));
INSERT INTO public.orders SELECT CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i, i * 1.25, i / 4.0, 'note ' || i,
	ARRAY['t' || i, NULL], i % 3 = 0, 9007199254740993 + i, jsonb_build_object('i', i) FROM generate_series(1, 12) i;
