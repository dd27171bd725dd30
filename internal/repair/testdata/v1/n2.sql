DELETE FROM public.orders WHERE id = 2;
UPDATE public.orders SET note = 'n2 changed' WHERE id = 3;
UPDATE public.orders SET paid = NOT paid, tags = '{}' WHERE id = 4;
UPDATE public.orders SET fee = trim_scale(fee) WHERE id IN (5, 7);
UPDATE public.orders SET note = E'tab\there\nnew line \\ back "quote" é' WHERE id = 7;
INSERT INTO public.orders VALUES ('ap', 100, 1.00, 0, NULL, NULL, NULL, NULL, NULL);
