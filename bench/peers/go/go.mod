module corio-peers

go 1.19
