module corio-go-tcp-hello

go 1.19
