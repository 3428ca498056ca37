module corio-go-proxy

go 1.19
