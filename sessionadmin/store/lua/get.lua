-- ARGV: prefix, ids...
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
return records(ARGV[1], ids, false)
