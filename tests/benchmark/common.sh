# Shared by the benchmark scripts, sourced after `set -euo pipefail`:
#   source "$(dirname "$0")/common.sh" <source database> <warehouse database>
# Moves to the repository root, reads the settings, checks the tools and defines the helpers below.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

heap=${BENCH_HEAP:-256m}
admin=${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL to postgresql://user:pass@host:port/postgres}
base=${admin%/*}
source_url="$base/$1"
warehouse_url="$base/$2"

say() { printf '%s\n' "$*" >&2; }
for tool in psql bc; do
  command -v "$tool" >/dev/null || { say "ERROR: the benchmark needs $tool (apt-get install postgresql-client bc)"; exit 2; }
done
seconds() { date +%s.%N; }
since() { echo "$(seconds) - $1" | bc; }
# The smaller of a best-so-far (maybe empty) and a new time.
best() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
peak_heap_of() { printf '%s' "$1" | sed -n 's/.*"peak_heap_bytes":\([0-9]*\).*/\1/p'; }
duration_ms_of() { printf '%s' "$1" | sed -n 's/.*"duration_ms":\([0-9]*\).*/\1/p'; }

# The source database is kept (its table is reused by runs of the same size); the warehouse starts empty.
prepare_databases() {
  psql -qX "$admin" -c "CREATE DATABASE ${source_url##*/}" 2>/dev/null || true
  psql -qX "$admin" -c "DROP DATABASE IF EXISTS ${warehouse_url##*/}" -c "CREATE DATABASE ${warehouse_url##*/}"
}

# Row count of a source table, or -1 when it does not exist.
source_rows() {
  if [ "$(psql -qtAX "$source_url" -c "SELECT to_regclass('$1') IS NOT NULL")" = t ]; then
    psql -qtAX "$source_url" -c "SELECT count(*) FROM $1"
  else
    echo -1
  fi
}

orders_columns="id bigint, customer text, amount numeric(12,2), created_at timestamptz, tags text[], payload jsonb"
# SELECT of <rows> orders-like rows in the column order above: orders_select <rows> <created_at expression of g>
orders_select() {
  cat <<SQL
SELECT g AS id, 'customer-' || (g % 100000) AS customer, round((g % 100000) * 1.37, 2) AS amount, $2 AS created_at,
       ARRAY['tag-' || (g % 7), 'tag-' || (g % 11)] AS tags,
       jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', g % 9, 'channel', (ARRAY['web', 'app', 'store'])[1 + g % 3]) AS payload
FROM generate_series(1, $1) g
SQL
}

# public.orders in the source with <rows> orders-like rows, one a second from 2024-01-01; kept when it
# already has that many: prepare_orders <rows>
prepare_orders() {
  if [ "$(source_rows public.orders)" != "$1" ]; then
    psql -qX -v ON_ERROR_STOP=1 "$source_url" <<SQL
DROP TABLE IF EXISTS public.orders;
CREATE TABLE public.orders ($orders_columns, PRIMARY KEY (id));
INSERT INTO public.orders
$(orders_select "$1" "timestamptz '2024-01-01' + g * interval '1 second'");
VACUUM (FREEZE, ANALYZE) public.orders;
SQL
  fi
}
