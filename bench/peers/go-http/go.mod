module corio-go-http

go 1.19
