DELETE FROM public.orders WHERE id = 9;
UPDATE public.orders SET doc = '{"i": 99}' WHERE id = 10;
UPDATE public.orders SET total = NULL WHERE id = 11;
UPDATE public.orders SET big = big + 1 WHERE id = 12;
INSERT INTO public.orders VALUES ('eu', 200, 2.50, 1.5, 'extra', '{x}', true, -1, '[]');
