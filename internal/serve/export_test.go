package serve

// Internals exposed to the external tests.
var (
	DecodeRequestGeneral = decodeRequest
	DecodeSingleFast     = decodeSingleFast
)
