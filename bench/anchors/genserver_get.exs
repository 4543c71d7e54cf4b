# Elixir GenServer `get` on the data of bench/kv.ts (100k keys "key-i", 100-byte values, scattered order):
# one caller, its loop in a module so that it is compiled; prints gets per second. bench/anchors.ts runs it.
defmodule KVBench do
  use GenServer
  def init(map), do: {:ok, map}
  def handle_call({:get, key}, _from, map), do: {:reply, Map.get(map, key), map}

  def loop(pid, keys, order, n, i, deadline) do
    if rem(i, 100) == 0 and System.monotonic_time(:millisecond) >= deadline do
      i
    else
      GenServer.call(pid, {:get, elem(keys, elem(order, rem(i, n)))})
      loop(pid, keys, order, n, i + 1, deadline)
    end
  end
end
n = 100_000
value = String.duplicate("v", 100)
keys = :erlang.list_to_tuple(Enum.map(0..(n - 1), fn i -> "key-#{i}" end))
map = Map.new(0..(n - 1), fn i -> {elem(keys, i), value} end)
{:ok, pid} = GenServer.start_link(KVBench, map)
order = :erlang.list_to_tuple(Enum.map(0..(n - 1), fn i -> rem(i * 7919, n) end))
millis = String.to_integer(Enum.at(System.argv(), 0, "1000"))
KVBench.loop(pid, keys, order, n, 0, System.monotonic_time(:millisecond) + 200)
start = System.monotonic_time(:microsecond)
count = KVBench.loop(pid, keys, order, n, 0, System.monotonic_time(:millisecond) + millis)
IO.puts(count * 1_000_000 / (System.monotonic_time(:microsecond) - start))
